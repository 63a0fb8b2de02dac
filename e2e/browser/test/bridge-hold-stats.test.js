// Hold and the media stats page, with the real bridge in demo mode: the
// widget's Hold button re-INVITEs the built-in trunk, and the stats page
// (/stats, /v1/admin/diag) says per direction whether audio flows. The fake
// microphone plays 1000 Hz; the trunk's tone number plays 440 Hz and its
// echo number sends back what it hears.
//
// CALLBRIDGE_DOC_SHOTS=1 also writes the healthy stats page to
// docs/img/stats.png (the screenshot in WIDGET.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, writeToneWav, shot, eventually, newPage, artifactsDir } from '../lib/harness.js';
import { bridgeBinary, startDemoBridge } from '../lib/real-bridge.js';
import { openBridgeDemo } from '../lib/demo-page.js';

const MIC_HZ = 1000;
const TRUNK_HZ = 440;
const near = (got, want) => Math.abs(got - want) <= 30;
const here = path.dirname(fileURLToPath(import.meta.url));
const docsImg = path.resolve(here, '../../../docs/img');

const DIRECTIONS = ['browser → bridge', 'bridge → trunk', 'trunk → bridge', 'bridge → browser'];

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

/** GET /v1/admin/diag with the admin token. */
async function diag(token = bridge.adminToken) {
  const res = await fetch(`${bridge.url}/v1/admin/diag`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() };
}

/** The stats page's entry of a call in progress. */
async function diagEntry(callId) {
  const { status, body } = await diag();
  assert.equal(status, 200);
  return body.active.find((e) => e.call.call_id === callId);
}

const summary = (e) => e && {
  verdict: e.report.verdict,
  directions: e.report.directions.map((d) => `${d.name}: ${d.status} (${d.packets} pkts${d.level_dbov == null ? '' : `, ${d.level_dbov.toFixed(0)} dBov`})`),
  findings: (e.report.findings || []).map((f) => f.id),
};

/** Polls the diag JSON until the call has the findings (one-sided silence: 18 of 20 s). */
async function untilFinding(callId, ...ids) {
  const id = ids.join(' and ');
  const t0 = Date.now();
  let last;
  try {
    const e = await eventually(async () => {
      last = await diagEntry(callId);
      return ids.every((x) => last?.report.findings?.some((f) => f.id === x)) && last;
    }, { what: `finding ${id}`, timeoutMs: 30000, intervalMs: 250 });
    console.log(`finding ${id} after ${((Date.now() - t0) / 1000).toFixed(1)} s:`, JSON.stringify(summary(e)));
    return e;
  } catch (err) {
    console.log(`no finding ${id}; the stats page says:`, JSON.stringify(summary(last)));
    throw err;
  }
}

async function callIdOf(s) {
  return eventually(async () => (await s.events('statechange')).at(-1)?.detail.call_id, { what: 'call id' });
}

test('hold and resume from the Hold button: the tone stops while held and comes back', async (t) => {
  const s = await openBridgeDemo(browser, bridge);
  try {
    await s.page.getByRole('link', { name: '+1 555 010 0002' }).click();
    await s.callInfo('Connected');
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, TRUNK_HZ)), { what: `${TRUNK_HZ} Hz from the trunk`, timeoutMs: 15000 });
    assert.ok(await s.w((p) => p.remoteLevel()) > 0.01, 'the tone is heard before hold');
    const callId = await callIdOf(s);
    // Past the stats page's grace period, so that it judges the directions.
    await eventually(async () => (await diagEntry(callId))?.report.verdict === 'Audio flows both ways.', { what: 'healthy before hold', timeoutMs: 10000, intervalMs: 500 });
    const button = s.phone.locator('.hold');
    assert.equal(await button.getAttribute('aria-pressed'), 'false');

    await s.phone.getByRole('button', { name: 'Hold' }).click();
    // The bridge confirms with `held` once the trunk accepted the re-INVITE.
    const held = await eventually(() => s.frames('held').find((m) => m.hold === true), { what: 'held {hold: true}', timeoutMs: 10000 });
    const holdReq = s.frames('hold', '>').find((m) => m.hold === true);
    assert.deepEqual(held, { type: 'held', request_id: holdReq.request_id, call_id: callId, hold: true });
    assert.equal(await button.getAttribute('aria-pressed'), 'true');
    assert.equal(await button.textContent(), 'Resume');
    await s.callInfo('(on hold)');
    await eventually(() => s.w((p) => p.remoteLevel()).then((l) => l < 0.002), { what: 'the tone gone while held', timeoutMs: 10000 });
    await shot(s.page, 'bridge-on-hold');
    await t.test('the stats page says the call is on hold', async () => {
      // Past StallAfter (2 s): every direction has stopped by now.
      await s.page.waitForTimeout(3000);
      const e = await diagEntry(callId);
      console.log('stats page while the agent holds:', JSON.stringify(summary(e)));
      assert.equal(e.report.verdict, 'The call is on hold.');
      assert.deepEqual(e.report.findings.filter((f) => f.severity === 'critical'), []);
    });
    assert.equal(await s.w((p) => p._pendingHold.size), 0, 'the widget forgot the confirmed request');

    await s.phone.getByRole('button', { name: 'Resume' }).click();
    const unheld = await eventually(() => s.frames('held').find((m) => m.hold === false), { what: 'held {hold: false}', timeoutMs: 10000 });
    assert.equal(unheld.call_id, callId);
    assert.equal(await button.getAttribute('aria-pressed'), 'false');
    assert.equal(await button.textContent(), 'Hold');
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, TRUNK_HZ)), { what: 'the tone back after resume', timeoutMs: 10000 });
    await eventually(() => s.w((p) => p.remoteLevel()).then((l) => l > 0.01), { what: 'the tone at its level after resume', timeoutMs: 10000 });

    await t.test('the hold is not counted as packet loss', async () => {
      const e = await diagEntry(callId);
      const up = e.call.media.uplink;
      console.log('after resume:', JSON.stringify({ ...summary(e), mos: e.report.mos, uplink: { packets: up?.packets, lost: up?.lost } }));
      assert.ok(up.lost <= 5, `browser → bridge lost ${up.lost} of ${up.packets + up.lost}`);
      assert.equal(e.report.findings.some((f) => f.id === 'Q3' && f.direction === 'browser → bridge'), false);
    });
    await s.phone.getByRole('button', { name: 'Hang up' }).click();
    await s.callInfo('You hung up');
    assert.deepEqual((await s.events('error')).map((e) => e.detail.code), [], 'the bridge accepted every message');
    assert.equal((await s.events('callended')).at(-1).detail.cause.by, 'agent');
  } finally { await s.ctx.close(); }
});

test('stats page: an echo call flows both ways; muting in the widget is shown as such (W9), never as a fault', async () => {
  const s = await openBridgeDemo(browser, bridge);
  const statsCtx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  try {
    await s.page.getByRole('link', { name: '+1 555 010 0001' }).click();
    await s.callInfo('Connected');
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, MIC_HZ)), { what: `echo of ${MIC_HZ} Hz`, timeoutMs: 15000 });
    const callId = await callIdOf(s);

    // The JSON is behind the admin token.
    assert.equal((await diag('')).status, 401);
    assert.equal((await diag('not-the-token')).status, 401);

    const stats = await newPage(statsCtx, `${bridge.url}/stats`, 'stats');
    await stats.getByLabel('Admin token').fill(bridge.adminToken);
    await stats.getByRole('button', { name: 'Show calls' }).click();
    const card = stats.locator('#active .card').filter({ hasText: callId });
    await card.locator('.verdict').filter({ hasText: 'Audio flows both ways.' }).waitFor({ timeout: 15000 });
    const rows = card.locator('tbody tr');
    assert.deepEqual(await rows.locator('td:nth-child(1)').allTextContents(), DIRECTIONS);
    assert.deepEqual(await rows.locator('td.st').allTextContents(), ['ok', 'ok', 'ok', 'ok']);
    // The widget uploads its getStats summary every 5 s.
    await card.filter({ hasText: 'Browser report' }).waitFor({ timeout: 12000 });
    await card.locator('.verdict').filter({ hasText: 'Audio flows both ways.' }).waitFor({ timeout: 5000 });
    // The page down to the end of "Calls in progress": this call only.
    const active = await stats.locator('#active').boundingBox();
    const clip = { x: 0, y: 0, width: 1100, height: Math.ceil(active.y + active.height + 12) };
    fs.mkdirSync(artifactsDir, { recursive: true });
    await stats.screenshot({ path: path.join(artifactsDir, 'stats.png'), clip });
    if (process.env.CALLBRIDGE_DOC_SHOTS === '1') await stats.screenshot({ path: path.join(docsImg, 'stats.png'), clip });

    const healthy = await diagEntry(callId);
    assert.equal(healthy.report.verdict, 'Audio flows both ways.', JSON.stringify(summary(healthy)));
    assert.deepEqual(healthy.report.directions.map((d) => d.status), ['ok', 'ok', 'ok', 'ok']);
    assert.ok(healthy.browser, 'the widget\'s stats upload is on the call');
    assert.ok(healthy.browser.inbound.packetsReceived > 0, `browser packetsReceived ${healthy.browser.inbound.packetsReceived}`);
    assert.ok(healthy.browser.outbound.packetsSent > 0);

    // Muted on the echo number, both directions carry silence: that is a
    // pause in the talk, never a finding (silence is judged over 20 s and
    // only while the other side speaks).
    await s.phone.getByRole('button', { name: 'Mute' }).click();
    const paused = await eventually(async () => {
      const e = await diagEntry(callId);
      return e.report.directions[0].status === 'silent' && e.report.directions[2].status === 'silent' && e;
    }, { what: 'both directions silent', timeoutMs: 10000, intervalMs: 250 });
    console.log('both sides silent:', JSON.stringify(summary(paused)));
    assert.deepEqual(paused.report.findings.filter((f) => f.id === 'W6' || f.id === 'S9'), []);
    // The widget told the bridge the agent muted (its stats upload).
    await untilFinding(callId, 'W9');
    assert.equal((await diagEntry(callId)).report.verdict, 'The agent has muted the microphone in the widget.');
    await s.phone.getByRole('button', { name: 'Unmute' }).click();
    await s.phone.getByRole('button', { name: 'Hang up' }).click();
    await s.callInfo('You hung up');

    // On the tone number the far end keeps playing: muting is one-way audio.
    await s.page.getByRole('link', { name: '+1 555 010 0002' }).click();
    await s.callInfo('Connected');
    const toneCall = await eventually(async () => {
      const id = await callIdOf(s);
      return id !== callId && id;
    }, { what: 'the second call id' });
    const toneCard = stats.locator('#active .card').filter({ hasText: toneCall });
    await toneCard.locator('.verdict').filter({ hasText: 'Audio flows both ways.' }).waitFor({ timeout: 15000 });
    await s.phone.getByRole('button', { name: 'Mute' }).click();
    // Muted in the widget: said at once (W9), never taken for a fault.
    await untilFinding(toneCall, 'W9');
    // The uplink's level falls below the silence threshold a moment later.
    const muted = await eventually(async () => {
      const e = await diagEntry(toneCall);
      return e.report.directions[0].status === 'silent' && e;
    }, { what: 'the agent\'s direction silent', timeoutMs: 10000, intervalMs: 250 });
    assert.equal(muted.report.verdict, 'The agent has muted the microphone in the widget.');
    assert.deepEqual(muted.report.directions.map((d) => d.status), ['silent', 'ok', 'ok', 'ok']);
    await toneCard.locator('.finding').filter({ hasText: 'W9' }).waitFor({ timeout: 5000 });
    await shot(stats, 'stats-muted', { fullPage: true });
    // How far below the silence threshold (-55 dBov) a muted Chromium is.
    const levels = [];
    for (let i = 0; i < 5; i++) {
      levels.push((await diagEntry(toneCall)).report.directions[0].level_dbov);
      await s.page.waitForTimeout(400);
    }
    console.log(`uplink level while muted: ${levels.map((l) => l.toFixed(1)).join(', ')} dBov`);
    await s.phone.getByRole('button', { name: 'Unmute' }).click();
    await eventually(async () => (await diagEntry(toneCall))?.report.verdict === 'Audio flows both ways.', { what: 'healthy again after unmute', timeoutMs: 10000, intervalMs: 500 });
    await s.phone.getByRole('button', { name: 'Hang up' }).click();
    await s.callInfo('You hung up');
  } finally {
    await statsCtx.close();
    await s.ctx.close();
  }
});

test('a hold longer than sip.media_timeout does not end the call', async () => {
  // A bridge of its own whose media timeout (3 s) is shorter than the hold.
  const short = await startDemoBridge(bridgeBinary(), { env: { BRIDGE_SIP_MEDIA_TIMEOUT: '3s' } });
  const s = await openBridgeDemo(browser, short);
  try {
    await s.page.getByRole('link', { name: '+1 555 010 0002' }).click();
    await s.callInfo('Connected');
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, TRUNK_HZ)), { what: 'trunk tone', timeoutMs: 15000 });
    const callId = await callIdOf(s);
    await s.phone.getByRole('button', { name: 'Hold' }).click();
    await eventually(() => s.frames('held').find((m) => m.hold === true), { what: 'held', timeoutMs: 10000 });
    await s.page.waitForTimeout(5000);
    // The trunk sent nothing for longer than the media timeout...
    const res = await fetch(`${short.url}/v1/admin/calls`, { headers: { Authorization: `Bearer ${short.adminToken}` } });
    const call = (await res.json()).calls.find((c) => c.call_id === callId);
    assert.ok(call, 'the call is still up after 5 s on hold');
    const silentFor = Date.now() - Date.parse(call.media.last_from_trunk);
    assert.ok(silentFor > 3000, `no RTP from the trunk for ${silentFor} ms while held`);
    // ...and the call is still up, and comes back.
    assert.deepEqual(await s.events('callended'), []);
    await s.phone.getByRole('button', { name: 'Resume' }).click();
    await eventually(() => s.w((p) => p.remoteDominantHz()).then((hz) => near(hz, TRUNK_HZ)), { what: 'the tone back after resume', timeoutMs: 10000 });
    await s.page.waitForTimeout(2000);
    assert.deepEqual(await s.events('callended'), [], 'the call outlived the resume');
    await s.phone.getByRole('button', { name: 'Hang up' }).click();
    await s.callInfo('You hung up');
  } finally {
    await s.ctx.close();
    await short.stop();
  }
});
