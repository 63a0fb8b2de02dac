// The widget against the real bridge in demo mode: the demo CRM page served
// by the bridge, real WebRTC to the bridge, real SIP to the built-in test
// trunk. The fake microphone plays 1000 Hz; the trunk's tone number plays
// 440 Hz and its echo number sends back what it hears.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, writeToneWav, shot, eventually } from '../lib/harness.js';
import { bridgeBinary, startDemoBridge } from '../lib/real-bridge.js';
import { openBridgeDemo } from '../lib/demo-page.js';

const MIC_HZ = 1000;
const TRUNK_HZ = 440;
const near = (got, want) => Math.abs(got - want) <= 30;

let browser;
let bridge;
before(async () => {
  bridge = await startDemoBridge(bridgeBinary());
  browser = await launchBrowser(writeToneWav(MIC_HZ));
});
after(async () => {
  await browser?.close();
  await bridge?.stop();
});

const openDemoPage = () => openBridgeDemo(browser, bridge);

async function webhookFor(callId) {
  return eventually(async () => {
    const res = await fetch(`${bridge.url}/demo/events`);
    const list = await res.json();
    return list.find((e) => e.type === 'call.completed' && e.call?.call_id === callId);
  }, { what: `call.completed webhook for ${callId}`, timeoutMs: 15000 });
}

test('tone number: click the tel: link, hear the trunk, webhook carries the metadata', async () => {
  const s = await openDemoPage();
  try {
    await s.page.getByRole('link', { name: '+1 555 010 0002' }).click();
    await s.callInfo('Connected');
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, TRUNK_HZ)), { what: `${TRUNK_HZ} Hz from the trunk`, timeoutMs: 15000 });
    assert.ok(await s.w((p) => p.remoteLevel()) > 0.01);
    await shot(s.page, 'bridge-answered');
    const states = (await s.events('statechange')).map((e) => e.detail.state);
    assert.equal(states[0], 'dialing');
    assert.equal(states.at(-1), 'answered');
    const callId = (await s.events('statechange'))[0].detail.call_id;
    // The browser's stats are uploaded while the call is up (no error back).
    await s.page.waitForTimeout(5500);
    await s.phone.getByRole('button', { name: 'Hang up' }).click();
    await s.callInfo('You hung up');
    const ended = await s.events('callended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0].detail.cause.by, 'agent');
    const hook = await webhookFor(callId);
    assert.deepEqual(hook.call.metadata, { contact_id: 'c-1002', crm: 'acme-demo' });
    assert.equal(hook.call.to, '+15550100002');
    assert.equal(hook.call.status, 'completed');
    assert.deepEqual((await s.events('error')).map((e) => e.detail.code), [], 'the bridge accepted every message');
  } finally { await s.ctx.close(); }
});

test('echo number: the trunk hears the browser; mute sends silence', async () => {
  const s = await openDemoPage();
  try {
    await s.page.getByRole('link', { name: '+1 555 010 0001' }).click();
    await s.callInfo('Connected');
    // Our 1000 Hz went browser → bridge (Opus → G.711) → trunk and came back.
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, MIC_HZ)), { what: `echo of ${MIC_HZ} Hz`, timeoutMs: 15000 });
    await s.phone.getByRole('button', { name: 'Mute' }).click();
    await eventually(() => s.w((p) => p.remoteLevel()).then((l) => l < 0.002), { what: 'silence echoed while muted', timeoutMs: 10000 });
    await s.phone.getByRole('button', { name: 'Unmute' }).click();
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, MIC_HZ)), { what: 'echo back after unmute', timeoutMs: 10000 });
    // DTMF during the call is accepted by the bridge.
    assert.equal(await s.w((p) => p.sendDigits('12#')), true);
    await s.page.waitForTimeout(1000);
    assert.deepEqual((await s.events('error')).map((e) => e.detail.code), []);
    await s.phone.getByRole('button', { name: 'Hang up' }).click();
    await s.callInfo('You hung up');
  } finally { await s.ctx.close(); }
});

test('busy, far-end hang-up and cancel before answer', async (t) => {
  const s = await openDemoPage();
  try {
    await t.test('busy', async () => {
      await s.page.getByRole('link', { name: '+1 555 010 0003' }).click();
      await s.callInfo('Busy');
      const ended = (await s.events('callended')).at(-1);
      assert.equal(ended.detail.cause.sip_code, 486);
      await shot(s.page, 'bridge-busy');
    });
    await t.test('far end hangs up after 3 s', async () => {
      await s.page.getByRole('button', { name: '+1 555 010 0006' }).click();
      await s.callInfo('Connected');
      await s.callInfo('The other party hung up', 15000);
      assert.equal((await s.events('callended')).at(-1).detail.cause.by, 'remote');
    });
    await t.test('no answer: the agent hangs up while it rings', async () => {
      await s.page.getByRole('link', { name: '+1 555 010 0004' }).click();
      await s.callInfo('Ringing');
      await s.phone.getByRole('button', { name: 'Hang up' }).click();
      const ended = await eventually(async () => (await s.events('callended')).length === 3 && (await s.events('callended')).at(-1), { what: 'third callended' });
      assert.equal(ended.detail.cause.by, 'agent');
      assert.equal((await s.events('statechange')).some((e) => e.detail.state === 'answered' && e.detail.call_id === ended.detail.call_id), false);
    });
    await t.test('invalid number is refused with words', async () => {
      await s.phone.locator('.number').fill('12345');
      await s.phone.getByRole('button', { name: 'Call' }).click();
      await s.phone.getByRole('alert').filter({ hasText: 'That phone number is not valid' }).waitFor({ timeout: 10000 });
    });
  } finally { await s.ctx.close(); }
});

test('a dropped socket mid-call is resumed with a fresh token; the call and its audio go on', async () => {
  const s = await openDemoPage();
  try {
    await s.page.getByRole('link', { name: '+1 555 010 0002' }).click();
    await s.callInfo('Connected');
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, TRUNK_HZ)), { what: 'trunk tone', timeoutMs: 15000 });
    const sessionId = await s.w((p) => p.sessionId);
    const tokens = [];
    s.page.on('request', (r) => { if (r.url().endsWith('/demo/token')) tokens.push(r.url()); });
    // Break the socket as a network blip would.
    await s.w((p) => { p._ws.close(3000, 'network blip'); return true; });
    await eventually(() => s.events('resumed').then((r) => r.length === 1), { what: 'resumed', timeoutMs: 15000 });
    assert.equal(await s.w((p) => p.sessionId), sessionId, 'same session');
    assert.equal(tokens.length, 1, 'a fresh token was fetched for the resume');
    assert.equal((await s.events('ready')).length, 1, 'no new session was started');
    await s.callInfo('Connected');
    assert.ok(near(await s.w((p) => p.remoteDominantHz()), TRUNK_HZ), 'audio carries on');
    await s.phone.getByRole('button', { name: 'Hang up' }).click();
    await s.callInfo('You hung up');
    assert.deepEqual((await s.events('error')).map((e) => e.detail.code), []);
  } finally { await s.ctx.close(); }
});

// Opus TOC byte (RFC 6716 §3.1): config = toc >> 3.
function opusMode(config) {
  if (config <= 3) return 'SILK-NB';
  if (config <= 7) return 'SILK-MB';
  if (config <= 11) return 'SILK-WB';
  if (config <= 13) return 'Hybrid-SWB';
  if (config <= 15) return 'Hybrid-FB';
  if (config <= 19) return 'CELT-NB';
  if (config <= 23) return 'CELT-WB';
  if (config <= 27) return 'CELT-SWB';
  return 'CELT-FB';
}

test('Chromium sends narrowband SILK with the bridge\'s answer (Opus TOC of every frame)', async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    // Tap the encoded frames the widget's sender produces (encoded transform),
    // before SRTP, and count the Opus TOC configs.
    await page.addInitScript(() => {
      window.opusConfigs = {};
      window.opusBytes = 0;
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(cfg = {}) { super({ ...cfg, encodedInsertableStreams: true }); }
        addTrack(track, ...streams) {
          const sender = super.addTrack(track, ...streams);
          const { readable, writable } = sender.createEncodedStreams();
          readable.pipeThrough(new TransformStream({
            transform(frame, ctl) {
              const b = new Uint8Array(frame.data);
              if (b.length) { const c = b[0] >> 3; window.opusConfigs[c] = (window.opusConfigs[c] || 0) + 1; window.opusBytes += b.length; }
              ctl.enqueue(frame);
            },
          })).pipeTo(writable);
          return sender;
        }
      };
    });
    await page.goto(`${bridge.url}/demo/`);
    const phone = page.locator('callbridge-softphone');
    await phone.locator('.status-text').filter({ hasText: 'Ready' }).waitFor({ timeout: 15000 });
    const answer = await eventually(() => page.evaluate(() => document.querySelector('callbridge-softphone').peerConnection?.remoteDescription?.sdp), { what: 'answer' });
    assert.match(answer, /a=fmtp:\d+ .*maxplaybackrate=8000/, 'the bridge asks for narrowband Opus');
    await page.getByRole('link', { name: '+1 555 010 0001' }).click();
    await phone.locator('.callinfo').filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
    await page.evaluate(() => { window.opusConfigs = {}; window.opusBytes = 0; });
    await page.waitForTimeout(3000);
    const { configs, bytes } = await page.evaluate(() => ({ configs: window.opusConfigs, bytes: window.opusBytes }));
    const total = Object.values(configs).reduce((a, b) => a + b, 0);
    const byMode = {};
    for (const [c, n] of Object.entries(configs)) byMode[`${opusMode(Number(c))} config ${c}`] = n;
    console.log(`Opus frames sent by Chromium over 3 s: ${JSON.stringify(byMode)}; ${total} frames, ${(bytes * 8 / 3000).toFixed(1)} kbit/s payload`);
    assert.ok(total > 100, 'frames were sent');
    const nb = Object.entries(configs).filter(([c]) => Number(c) <= 3).reduce((a, [, n]) => a + n, 0);
    assert.ok(nb / total >= 0.95, `SILK-NB share ${nb}/${total}`);
    await phone.getByRole('button', { name: 'Hang up' }).click();
  } finally { await ctx.close(); }
});
