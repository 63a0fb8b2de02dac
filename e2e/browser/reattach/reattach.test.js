// Calls that outlive the page, against the real bridge in demo mode and its
// built-in SIP trunk (a real SIP user agent on loopback): reload, navigate,
// a second tab, and a page that never comes back. The fake microphone plays
// 1000 Hz; the trunk's echo number sends back what it hears, so hearing
// 1000 Hz in the page proves audio both ways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, writeToneWav, shot, eventually } from '../lib/harness.js';
import { bridgeBinary, startDemoBridge } from '../lib/real-bridge.js';
import { openBridgeDemo } from '../lib/demo-page.js';

const MIC_HZ = 1000;
const near = (got, want) => Math.abs(got - want) <= 30;
const PAGE_GRACE_S = 4;

let browser;
let bridge;
before(async () => {
  bridge = await startDemoBridge(bridgeBinary(), { env: { BRIDGE_WEBRTC_PAGE_GRACE: `${PAGE_GRACE_S}s` } });
  browser = await launchBrowser(writeToneWav(MIC_HZ));
});
after(async () => {
  await browser?.close();
  await bridge?.stop();
});

async function hooks() {
  const res = await fetch(`${bridge.url}/demo/events`);
  return res.json();
}

async function completedFor(callId) {
  return eventually(async () => (await hooks()).find((e) => e.type === 'call.completed' && e.call?.call_id === callId),
    { what: `call.completed for ${callId}`, timeoutMs: 20000 });
}

// The widget of a page, whatever page it is now.
const widget = (page) => (fn) => page.evaluate((src) => (0, eval)(`(${src})`)(document.querySelector('callbridge-softphone')), fn.toString());

async function echoHeard(page, what) {
  await eventually(() => widget(page)((p) => p.remoteDominantHz()).then((hz) => near(hz, MIC_HZ)), { what, timeoutMs: 20000 });
}

async function answeredEcho(s) {
  await s.page.getByRole('link', { name: '+1 555 010 0001' }).click();
  await s.callInfo('Connected');
  await echoHeard(s.page, `echo of ${MIC_HZ} Hz before the page goes`);
  const callId = (await s.events('statechange')).find((e) => e.detail.state === 'answered').detail.call_id;
  const answeredAt = await s.w((p) => p.currentCall.answeredAt);
  // Let the call timer pass 2 s, so a timer that restarted on reload shows.
  await eventually(() => s.phone.locator('.timer').textContent().then((t) => t >= '00:02'), { what: 'call timer at 00:02', timeoutMs: 10000 });
  return { callId, answeredAt };
}

// After a reload or a navigation: the widget is back in the call without a
// click, the timer runs from the answer, the audio flows both ways again.
async function backInTheCall(page, callId) {
  const phone = page.locator('callbridge-softphone');
  await phone.locator('.callinfo').filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
  assert.equal(await widget(page)((p) => p.currentCall?.call_id), callId);
  await echoHeard(page, `echo of ${MIC_HZ} Hz after the page came back`);
  const timer = await phone.locator('.timer').textContent();
  assert.ok(timer >= '00:02', `the call timer runs from the answer, not from the reload (${timer})`);
  assert.equal(await widget(page)((p) => p.sessionId === JSON.parse(sessionStorage.getItem('callbridge-softphone:' + (p.getAttribute('server') || '')) || '{}').session_id), true,
    'the session is kept in sessionStorage');
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('callbridge')).length), 0, 'nothing in localStorage');
}

async function hangUpAndCheckRecord(page, callId, answeredAt) {
  assert.equal((await hooks()).filter((e) => e.type === 'call.completed' && e.call?.call_id === callId).length, 0, 'not ended upstream while the page was away');
  await page.locator('callbridge-softphone .actions').getByRole('button', { name: 'Hang up' }).click();
  await page.locator('callbridge-softphone .callinfo').filter({ hasText: 'You hung up' }).waitFor({ timeout: 15000 });
  const endedAt = Date.now();
  const hook = await completedFor(callId);
  assert.equal(hook.call.status, 'completed');
  assert.equal(hook.call.hangup.by, 'agent');
  const full = Math.floor((endedAt - answeredAt) / 1000);
  assert.ok(hook.call.duration_s >= full - 1, `duration ${hook.call.duration_s} s covers the whole call (${full} s)`);
  assert.equal((await hooks()).filter((e) => e.type === 'call.completed' && e.call?.call_id === callId).length, 1, 'one call, one record');
  assert.equal((await hooks()).filter((e) => e.type === 'call.answered' && e.call?.call_id === callId).length, 1, 'answered once');
}

test('reload during an answered call: the call comes back with audio both ways', async () => {
  const s = await openBridgeDemo(browser, bridge);
  try {
    const { callId, answeredAt } = await answeredEcho(s);
    await s.page.reload();
    await backInTheCall(s.page, callId);
    await shot(s.page, 'reattach-after-reload');
    const resume = s.frames('resume', '>').at(-1);
    assert.equal(resume.new_peer, true);
    assert.ok(resume.resume_token);
    await hangUpAndCheckRecord(s.page, callId, answeredAt);
  } finally { await s.ctx.close(); }
});

test('navigation to another page with the widget: the call follows', async () => {
  const s = await openBridgeDemo(browser, bridge);
  try {
    const { callId, answeredAt } = await answeredEcho(s);
    await s.page.goto(`${bridge.url}/demo/?contact=2`);
    await backInTheCall(s.page, callId);
    await hangUpAndCheckRecord(s.page, callId, answeredAt);
  } finally { await s.ctx.close(); }
});

test('two tabs: the second shows the call, can hang it up, and can move it to itself', async () => {
  const s = await openBridgeDemo(browser, bridge);
  try {
    const { callId } = await answeredEcho(s);
    const second = await s.ctx.newPage();
    await second.goto(`${bridge.url}/demo/`);
    const other = second.locator('callbridge-softphone').locator('.othertab');
    await other.filter({ hasText: 'in another tab' }).waitFor({ timeout: 15000 });
    await eventually(() => widget(second)((p) => p.peerConnection?.iceConnectionState === 'connected'), { what: 'second tab ICE connected', timeoutMs: 15000 });

    // Move the call here: the audio comes to the second tab.
    await other.getByRole('button', { name: 'Move the call here' }).click();
    await second.locator('callbridge-softphone .callinfo').filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
    await echoHeard(second, 'echo in the tab the call moved to');
    await s.phone.locator('.othertab').filter({ hasText: 'in another tab' }).waitFor({ timeout: 15000 });
    assert.equal(await s.w((p) => p.currentCall), null, 'the first tab no longer owns the call');

    // The first tab hangs the call up from its "other tab" box.
    await s.phone.locator('.othertab').getByRole('button', { name: 'Hang up' }).click();
    const hook = await completedFor(callId);
    assert.equal(hook.call.hangup.by, 'agent');
    await second.locator('callbridge-softphone .callinfo').filter({ hasText: 'You hung up' }).waitFor({ timeout: 15000 });
  } finally { await s.ctx.close(); }
});

test('the owning tab closes: the other offers to move the call, and does', async () => {
  const s = await openBridgeDemo(browser, bridge);
  try {
    const { callId } = await answeredEcho(s);
    const second = await s.ctx.newPage();
    await second.goto(`${bridge.url}/demo/`);
    const other = second.locator('callbridge-softphone').locator('.othertab');
    await other.filter({ hasText: 'in another tab' }).waitFor({ timeout: 15000 });
    await eventually(() => widget(second)((p) => p.peerConnection?.iceConnectionState === 'connected'), { what: 'second tab ICE connected', timeoutMs: 15000 });
    await s.page.close({ runBeforeUnload: true });
    await other.filter({ hasText: 'closed' }).waitFor({ timeout: 15000 });
    await other.getByRole('button', { name: 'Move the call here' }).click();
    await second.locator('callbridge-softphone .callinfo').filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
    await echoHeard(second, 'echo after moving the call from the closed tab');
    assert.equal((await hooks()).filter((e) => e.type === 'call.completed' && e.call?.call_id === callId).length, 0);
    await second.locator('callbridge-softphone .actions').getByRole('button', { name: 'Hang up' }).click();
    await completedFor(callId);
  } finally { await s.ctx.close(); }
});

test('a page gone longer than the grace: BYE upstream, ended with a clear cause', async () => {
  const s = await openBridgeDemo(browser, bridge);
  try {
    const { callId } = await answeredEcho(s);
    await s.page.close({ runBeforeUnload: true });
    const hook = await completedFor(callId);
    assert.equal(hook.call.status, 'completed');
    assert.equal(hook.call.hangup.by, 'agent');
    assert.match(hook.call.hangup.reason, /page gone/);
  } finally { await s.ctx.close(); }
});
