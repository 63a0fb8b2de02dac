// Network trouble: a dropped socket is resumed with a fresh token, a lost
// session starts a new one, going offline and back restarts ICE without
// dropping the call, and the widget pings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, writeToneWav, shot, eventually } from '../lib/harness.js';
import { openDemo, callInfo, status, answer } from '../lib/setup.js';

const FAR_HZ = 1000;
const near = (got, want) => Math.abs(got - want) <= 30;
const ufrag = (sdp) => /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];

let browser;
before(async () => { browser = await launchBrowser(writeToneWav(440)); });
after(async () => { await browser?.close(); });

async function answeredCall(env) {
  await status(env, 'Ready');
  await env.page.getByRole('link', { name: '+1 555 010 0002' }).click();
  const c = await env.nextCall();
  await answer(env, c);
  await eventually(() => env.widget((p) => p.remoteDominantHz()).then((hz) => near(hz, FAR_HZ)), { what: 'far-end tone in the widget' });
  return c;
}

test('a dropped socket is resumed with a fresh token and the call goes on', async () => {
  const env = await openDemo(browser);
  try {
    const { call } = await answeredCall(env);
    const session = env.bridge.session();
    env.bridge.dropSocket(session);
    const resume = await env.bridge.waitFor('resume');
    assert.equal(resume.session_id, session.id);
    assert.equal(resume.token, 'tok-2', 'a new token is fetched for the reconnect');
    assert.equal(env.bridge.tokensIssued, 2);
    await status(env, 'Ready');
    assert.equal(env.bridge.sent('hello').length, 1, 'no new session');
    await callInfo(env, 'Connected');
    assert.equal(await env.widget((p) => p.currentCall?.call_id), call.call_id);
    // The media path never depended on the socket.
    assert.ok(near(await env.widget((p) => p.remoteDominantHz()), FAR_HZ));
    assert.equal((await env.events('callended')).length, 0);
    // Commands after the resume reach the bridge on the new socket.
    await env.phone.getByRole('button', { name: 'Hang up' }).click();
    assert.equal((await env.bridge.waitFor('hangup')).call_id, call.call_id);
  } finally { await env.close(); }
});

test('a session the bridge no longer knows ends the call and starts a new session', async () => {
  const env = await openDemo(browser);
  try {
    await answeredCall(env);
    const old = env.bridge.session();
    env.bridge.sessions.delete(old.id);
    env.bridge.dropSocket(old);
    await env.bridge.waitFor('resume');
    await env.bridge.waitFor('hello', (m, rec) => rec.at > 0 && env.bridge.sent('hello').length === 2);
    await callInfo(env, 'connection lost');
    const ended = await env.events('callended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0].detail.cause.by, 'bridge');
    await status(env, 'Ready');
    // The new session gets its own media offer (a fresh peer connection).
    await env.bridge.waitFor('offer', () => env.bridge.sent('offer').length === 2);
    assert.notEqual(env.bridge.session().id, old.id);
  } finally { await env.close(); }
});

test('offline then online: status, words, ICE restart without dropping the call', async () => {
  const env = await openDemo(browser);
  try {
    const { call } = await answeredCall(env);
    const firstOffer = env.bridge.sent('offer')[0];
    await env.ctx.setOffline(true);
    await status(env, 'No network');
    await env.phone.getByRole('alert').filter({ hasText: 'No network connection' }).waitFor();
    await shot(env.page, 'no-network');
    await env.ctx.setOffline(false);
    await env.bridge.waitFor('offer', () => env.bridge.sent('offer').length >= 2, 15000);
    const restart = env.bridge.sent('offer')[1];
    assert.notEqual(ufrag(restart.sdp), ufrag(firstOffer.sdp), 'new ICE credentials (RFC 8445 §9)');
    await status(env, 'Ready');
    assert.equal(await env.phone.getByRole('alert').isVisible(), false, 'the no-network words go away');
    await callInfo(env, 'Connected');
    assert.equal(await env.widget((p) => p.currentCall?.call_id), call.call_id);
    await eventually(() => env.far.evaluate(() => window.iceStates().at(-1) === 'connected'), { what: 'far end reconnected after the restart' });
    await eventually(() => env.widget((p) => p.remoteDominantHz()).then((hz) => near(hz, FAR_HZ)), { what: 'audio after the ICE restart' });
    assert.equal((await env.events('callended')).length, 0);
  } finally { await env.close(); }
});

test('restartIce() during a call renegotiates on the same session', async () => {
  const env = await openDemo(browser);
  try {
    await answeredCall(env);
    await env.widget((p) => p.restartIce());
    const offers = await eventually(() => (env.bridge.sent('offer').length >= 2 ? env.bridge.sent('offer') : null), { what: 'second offer' });
    assert.notEqual(ufrag(offers[1].sdp), ufrag(offers[0].sdp));
    assert.equal(env.bridge.sent('hello').length, 1);
    await eventually(() => env.widget((p) => p.peerConnection.iceConnectionState === 'connected'), { what: 'ICE connected again' });
    await callInfo(env, 'Connected');
  } finally { await env.close(); }
});

test('pings every 15 s', async () => {
  const env = await openDemo(browser, { path: '' });
  try {
    await env.page.clock.install();
    await env.page.goto(`${env.bridge.url}/demo/`);
    await status(env, 'Ready');
    assert.equal(env.bridge.sent('ping').length, 0);
    await env.page.clock.runFor(15000);
    await env.bridge.waitFor('ping');
    await env.page.clock.runFor(15000);
    await env.bridge.waitFor('ping', () => env.bridge.sent('ping').length === 2);
    await status(env, 'Ready');
  } finally { await env.close(); }
});

test('a call that ended during the gap ends once, from the replayed backlog', async () => {
  const env = await openDemo(browser);
  try {
    const { session, call } = await answeredCall(env);
    env.bridge.dropSocket(session);
    // While the socket is down the far end hangs up; the bridge keeps the message.
    await new Promise((r) => setTimeout(r, 50));
    session.callState(call, 'ended', { cause: { sip_code: 0, q850: 16, reason: 'BYE', by: 'remote' } });
    await env.bridge.waitFor('resume');
    await callInfo(env, 'The other party hung up');
    await env.page.waitForTimeout(1500); // past the widget's own clean-up delay
    const ended = await env.events('callended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0].detail.cause.by, 'remote');
    await status(env, 'Ready');
  } finally { await env.close(); }
});

test('a session resumed by another window (4409) stops this widget', async () => {
  const env = await openDemo(browser);
  try {
    await status(env, 'Ready');
    const s = env.bridge.session();
    s.ws.close(4409, 'resumed elsewhere');
    await env.phone.getByRole('alert').filter({ hasText: 'opened in another window' }).waitFor();
    await status(env, 'Offline');
    await env.page.waitForTimeout(1000);
    assert.equal(env.bridge.sent('resume').length + env.bridge.sent('hello').length, 1, 'no reconnect attempts');
  } finally { await env.close(); }
});
