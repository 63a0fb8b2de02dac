// Call flows of the widget in real Chromium against the fake bridge, with
// real WebRTC audio to and from the far-end page: the widget's fake
// microphone plays 440 Hz, the far end plays 1000 Hz.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launchBrowser, writeToneWav, shot, eventually, artifactsDir } from '../lib/harness.js';
import { openDemo, callInfo, status, answer } from '../lib/setup.js';

const MIC_HZ = 440;
const FAR_HZ = 1000;
// The AudioContext runs at 44.1 or 48 kHz with a 2048-point FFT: bins are
// ~22 Hz wide, so a tone reads within one bin of its frequency.
const near = (got, want) => Math.abs(got - want) <= 30;

let browser;
before(async () => { browser = await launchBrowser(writeToneWav(MIC_HZ)); });
after(async () => { await browser?.close(); });

test('sets up the media session at connect, before any call', async () => {
  const env = await openDemo(browser);
  try {
    await status(env, 'Ready');
    const hello = await env.bridge.waitFor('hello');
    assert.equal(hello.token, 'tok-1');
    assert.equal(hello.client.name, 'callbridge-softphone');
    const offer = await env.bridge.waitFor('offer');
    assert.match(offer.sdp, /m=audio /);
    await env.bridge.waitFor('candidate');
    assert.equal(env.bridge.sent('call').length, 0, 'no call was placed');
    await eventually(() => env.widget((p) => p.peerConnection?.iceConnectionState === 'connected'), { what: 'ICE connected before the call' });
    // One caller id: no picker.
    assert.equal(await env.phone.locator('.from').isVisible(), false);
    assert.equal(await env.phone.getByRole('button', { name: 'Call' }).isEnabled(), true);
    await shot(env.page, 'ready');
  } finally { await env.close(); }
});

test('click a tel: link on the demo page: states, audio both ways, mute, DTMF, stats, hang up', async () => {
  const env = await openDemo(browser);
  try {
    const { page, phone, bridge, far } = env;
    await status(env, 'Ready');
    await page.getByRole('link', { name: '+1 555 010 0002' }).click();
    const { session, call } = await env.nextCall();
    const callMsg = bridge.sent('call')[0];
    assert.equal(callMsg.to, '+15550100002');
    assert.deepEqual(callMsg.metadata, { contact_id: 'c-1002', crm: 'acme-demo' });
    assert.ok(callMsg.request_id);
    assert.equal(callMsg.from, undefined, 'one caller id: the bridge picks it');

    session.callState(call, 'dialing');
    await callInfo(env, 'Calling +15550100002');
    await shot(page, 'dialing');
    session.callState(call, 'ringing');
    await callInfo(env, 'Ringing');
    await shot(page, 'ringing');
    session.callState(call, 'answered');
    await callInfo(env, 'Connected');
    await phone.locator('.timer').filter({ hasText: '00:01' }).waitFor();

    // Far end's tone is heard in the widget, the widget's microphone at the far end.
    await eventually(() => env.widget((p) => p.remoteDominantHz()).then((hz) => near(hz, FAR_HZ)), { what: `${FAR_HZ} Hz in the widget` });
    assert.ok(await env.widget((p) => p.remoteLevel()) > 0.05);
    await eventually(() => far.evaluate(() => window.farDominantHz()).then((hz) => near(hz, MIC_HZ)), { what: `${MIC_HZ} Hz at the far end` });
    assert.ok(await far.evaluate(() => window.farLevel()) > 0.005);
    await shot(page, 'answered');
    await page.screenshot({ path: path.join(artifactsDir, 'demo-page.png') });

    // Mute: the far end hears silence; unmute brings the tone back.
    await phone.getByRole('button', { name: 'Mute' }).click();
    assert.equal(await phone.locator('.mute').getAttribute('aria-pressed'), 'true');
    await eventually(() => far.evaluate(() => window.farLevel()).then((l) => l < 0.001), { what: 'silence at the far end while muted' });
    assert.equal(await env.widget((p) => p.micLevel()), 0);
    await shot(page, 'muted');
    await phone.getByRole('button', { name: 'Unmute' }).click();
    await eventually(() => far.evaluate(() => window.farDominantHz()).then((hz) => near(hz, MIC_HZ)), { what: 'tone back after unmute' });

    // DTMF from the dial pad and from the keyboard.
    await phone.getByRole('button', { name: '5 JKL' }).click();
    await phone.locator('.number').focus();
    await page.keyboard.press('7');
    await page.keyboard.press('#');
    await bridge.waitFor('dtmf', (m) => m.digits === '#');
    assert.deepEqual(bridge.sent('dtmf').map((m) => [m.call_id, m.digits]), [[call.call_id, '5'], [call.call_id, '7'], [call.call_id, '#']]);
    assert.equal(await phone.locator('.number').inputValue(), '+15550100002', 'digits during a call do not edit the number');

    // A getStats summary is uploaded while the call is up.
    const stats = await bridge.waitFor('stats', (m) => m.inbound?.packetsReceived > 0, 12000);
    assert.equal(stats.call_id, call.call_id);
    for (const k of ['packetsReceived', 'packetsLost', 'jitter', 'audioLevel', 'totalAudioEnergy']) assert.equal(typeof stats.inbound[k], 'number', `inbound.${k}`);
    assert.ok(stats.inbound.totalAudioEnergy > 0, 'the remote audio is played');
    assert.ok(stats.outbound.packetsSent > 0);
    assert.equal(typeof stats.outbound.audioLevel, 'number');
    assert.equal(stats.candidate_pair.state, 'succeeded');
    assert.match(stats.candidate_pair.local, /^(host|srflx|prflx|relay) udp /);
    assert.equal(typeof stats.candidate_pair.currentRoundTripTime, 'number');

    // Hang up from the widget.
    await phone.getByRole('button', { name: 'Hang up' }).click();
    const hangup = await bridge.waitFor('hangup');
    assert.equal(hangup.call_id, call.call_id);
    await callInfo(env, 'You hung up');
    const ended = await env.events('callended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0].detail.call_id, call.call_id);
    assert.equal(ended[0].detail.cause.by, 'agent');
    assert.deepEqual((await env.events('statechange')).map((e) => e.detail.state), ['dialing', 'ringing', 'answered', 'ended']);
    assert.equal(await phone.getByRole('button', { name: 'Call' }).isVisible(), true);
    await shot(page, 'ended');
    const nStats = bridge.sent('stats').length;
    await page.waitForTimeout(5500);
    assert.equal(bridge.sent('stats').length, nStats, 'no stats after the call ended');
  } finally { await env.close(); }
});

test('far end hangs up, busy and early media update the UI', async (t) => {
  const env = await openDemo(browser);
  try {
    await status(env, 'Ready');
    const cases = [
      { name: 'far end hangs up', states: ['dialing', 'ringing', 'answered'], cause: { sip_code: 0, q850: 16, reason: 'Normal call clearing', by: 'remote' }, text: 'The other party hung up' },
      { name: 'busy', states: ['dialing', 'ringing'], cause: { sip_code: 486, q850: 17, reason: 'Busy Here', by: 'remote' }, text: 'Busy' },
      { name: 'early media then answer then trunk error', states: ['dialing', 'early_media', 'answered'], cause: { sip_code: 503, q850: 38, reason: 'Service Unavailable', by: 'remote' }, text: 'The phone line is down' },
    ];
    let n = 0;
    for (const tc of cases) {
      await t.test(tc.name, async () => {
        await env.phone.locator('.number').fill('+1 555 010 0001');
        await env.phone.getByRole('button', { name: 'Call' }).click();
        const { session, call } = await env.nextCall(++n);
        for (const s of tc.states) session.callState(call, s);
        if (tc.states.includes('early_media')) await callInfo(env, 'Connected');
        session.callState(call, 'ended', { cause: tc.cause });
        await callInfo(env, tc.text);
        const ended = (await env.events('callended')).at(-1);
        assert.equal(ended.detail.call_id, call.call_id);
        assert.deepEqual(ended.detail.cause, tc.cause);
        assert.equal(env.bridge.sent('hangup').length, 0, 'the widget sends no hangup for a call the far end ended');
      });
    }
    await shot(env.page, 'ended-busy');
  } finally { await env.close(); }
});

test('caller-id picker when the seat has several numbers', async () => {
  const env = await openDemo(browser, { bridgeOpts: { callerIds: ['+14155550100', '+442071838750'] } });
  try {
    await status(env, 'Ready');
    const picker = env.phone.getByRole('combobox', { name: 'Call from' });
    await picker.waitFor();
    assert.deepEqual(await picker.locator('option').allTextContents(), ['+14155550100', '+442071838750']);
    await picker.selectOption('+442071838750');
    await shot(env.page, 'caller-id-picker');
    await env.phone.locator('.number').fill('(415) 555-0100');
    await env.phone.locator('.number').press('Enter');
    await env.nextCall();
    const msg = env.bridge.sent('call')[0];
    assert.equal(msg.from, '+442071838750');
    assert.equal(msg.to, '(415) 555-0100', 'the bridge normalizes; the widget sends what was typed');
  } finally { await env.close(); }
});

test('hold is sent to the bridge and reverted when refused', async () => {
  const env = await openDemo(browser);
  try {
    await status(env, 'Ready');
    await env.page.getByRole('link', { name: '+1 555 010 0001' }).click();
    const c = await env.nextCall();
    await answer(env, c);
    const hold = env.phone.locator('.hold');
    await hold.click();
    const msg = await env.bridge.waitFor('hold');
    assert.deepEqual({ call_id: msg.call_id, hold: msg.hold }, { call_id: c.call.call_id, hold: true });
    // The fake bridge refuses hold (as a bridge without hold support does).
    await env.phone.getByRole('alert').filter({ hasText: 'The call could not be put on hold' }).waitFor();
    assert.equal((await env.events('error')).at(-1).detail.code, 'bad_request');
    assert.equal(await hold.getAttribute('aria-pressed'), 'false');
    assert.equal(await hold.textContent(), 'Hold');
  } finally { await env.close(); }
});

test('hold accepted toggles to Resume', async () => {
  const env = await openDemo(browser, { bridgeOpts: { onHold: () => {} } });
  try {
    await status(env, 'Ready');
    await env.page.getByRole('link', { name: '+1 555 010 0001' }).click();
    const c = await env.nextCall();
    await answer(env, c);
    await env.phone.getByRole('button', { name: 'Hold' }).click();
    await env.bridge.waitFor('hold');
    assert.equal(await env.phone.locator('.hold').getAttribute('aria-pressed'), 'true');
    await callInfo(env, '(on hold)');
    await env.phone.getByRole('button', { name: 'Resume' }).click();
    const un = await env.bridge.waitFor('hold', (m) => m.hold === false);
    assert.equal(un.call_id, c.call.call_id);
  } finally { await env.close(); }
});

test('held from the bridge confirms the hold; a late confirmation does not undo a newer request', async () => {
  const holds = [];
  const env = await openDemo(browser, { bridgeOpts: { onHold: (b, s, m) => holds.push({ s, m }) } });
  const reply = ({ s, m }) => s.send({ type: 'held', request_id: m.request_id, call_id: m.call_id, hold: m.hold });
  try {
    await status(env, 'Ready');
    await env.page.getByRole('link', { name: '+1 555 010 0001' }).click();
    const c = await env.nextCall();
    await answer(env, c);
    const button = env.phone.locator('.hold');

    await env.phone.getByRole('button', { name: 'Hold' }).click();
    await env.bridge.waitFor('hold');
    assert.equal(await env.widget((p) => p._pendingHold.size), 1);
    reply(holds[0]);
    await eventually(() => env.widget((p) => p._pendingHold.size === 0), { what: 'the confirmed hold request forgotten' });
    assert.equal(await button.getAttribute('aria-pressed'), 'true');
    await callInfo(env, '(on hold)');

    // Resume, then Hold again before the bridge answers the resume: the
    // resume's confirmation arrives while the newer hold is pending.
    await env.phone.getByRole('button', { name: 'Resume' }).click();
    await env.phone.getByRole('button', { name: 'Hold' }).click();
    await env.bridge.waitFor('hold', () => holds.length === 3);
    reply(holds[1]); // hold: false
    await env.page.waitForTimeout(300);
    assert.equal(await button.getAttribute('aria-pressed'), 'true', 'the newer request decides the button');
    reply(holds[2]); // hold: true
    await eventually(() => env.widget((p) => p._pendingHold.size === 0), { what: 'both requests confirmed' });
    assert.equal(await button.getAttribute('aria-pressed'), 'true');
    assert.deepEqual(await env.events('error'), [], 'confirmations are not errors');
  } finally { await env.close(); }
});

test('digits the far end sends are surfaced as dtmf events', async () => {
  const env = await openDemo(browser);
  try {
    await status(env, 'Ready');
    await env.page.getByRole('link', { name: '+1 555 010 0001' }).click();
    const c = await env.nextCall();
    await answer(env, c);
    for (const digit of ['1', '#', 'X', '12', 'D']) c.session.send({ type: 'dtmf', call_id: c.call.call_id, digit });
    c.session.send({ type: 'dtmf', call_id: c.call.call_id }); // no digit
    await eventually(async () => (await env.events('dtmf')).length >= 3, { what: 'three dtmf events' });
    await env.page.waitForTimeout(300);
    assert.deepEqual((await env.events('dtmf')).map((e) => e.detail), [
      { call_id: c.call.call_id, digit: '1' },
      { call_id: c.call.call_id, digit: '#' },
      { call_id: c.call.call_id, digit: 'D' },
    ], 'one event per valid digit; anything else is ignored');
    assert.deepEqual(await env.events('error'), []);
  } finally { await env.close(); }
});
