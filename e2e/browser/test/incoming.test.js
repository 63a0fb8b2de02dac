// Incoming calls in the widget against the fake bridge: the panel and its
// words (English and German), the ringtone, Accept / Decline by mouse and
// keyboard (the messages the bridge gets), answered elsewhere, the caller
// hanging up, the desktop notification of a hidden page, and the call
// controls once answered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, writeToneWav, shot, eventually } from '../lib/harness.js';
import { openDemo, callInfo, status } from '../lib/setup.js';

let browser;
before(async () => { browser = await launchBrowser(writeToneWav(440)); });
after(async () => { await browser?.close(); });

const CALLER = '+14155559876';
const incoming = (callId, extra = {}) => ({
  type: 'incoming', call_id: callId, from: CALLER, from_raw: '4155559876', to: '+14155550100', direction: 'inbound', seat: 'agent-7', ...extra,
});

// The page's view of the panel and the ringtone.
const look = (env) => env.widget((p) => {
  const panel = p.shadowRoot.querySelector('.incoming');
  return {
    panel: !panel.hidden, text: panel.textContent.replace(/\s+/g, ' ').trim(), ringing: p.ringing,
    tone: !p.shadowRoot.querySelector('.ringtone').paused, incoming: p.incomingCall?.call_id ?? null,
  };
});

async function ringing(env, callId) {
  await eventually(() => look(env).then((l) => l.ringing && l.panel && l.incoming === callId), { what: `${callId} rings` });
}

async function stopped(env) {
  await eventually(() => look(env).then((l) => !l.ringing && !l.panel && !l.tone && l.incoming === null), { what: 'ringing stopped' });
}

test('incoming call: decline, accept, answered elsewhere, caller hangs up', async () => {
  const env = await openDemo(browser, {
    path: '/test/embed.html',
    initScript: () => {
      window.incomingEvents = [];
      document.addEventListener('incoming', (e) => { window.incomingEvents.push(e.detail.call_id); e.detail.setDisplayName('Ada Prospect'); }, true);
      document.addEventListener('incomingend', (e) => window.incomingEvents.push(`end ${e.detail.call_id} ${e.detail.cause?.reason ?? ''} ${e.detail.cause?.by ?? ''}`), true);
    },
  });
  try {
    const { page, phone, bridge } = env;
    await status(env, 'Ready');
    const session = bridge.session();

    // 1. Rings with the caller's number and the page's name; Escape declines.
    session.send(incoming('in-1'));
    session.send({ type: 'call_state', call_id: 'in-1', request_id: '', state: 'ringing', to: '+14155550100', from: CALLER });
    await ringing(env, 'in-1');
    const l = await look(env);
    assert.ok(l.tone, 'the ringtone plays');
    assert.match(l.text, /Incoming call/);
    assert.match(l.text, /Ada Prospect/);
    assert.match(l.text, /\+14155559876/);
    await shot(page, 'incoming-ringing');
    assert.equal(await phone.getByRole('alertdialog').count(), 1);
    assert.equal(await env.widget((p) => p.shadowRoot.activeElement?.className), 'accept', 'Accept has the focus');
    await page.keyboard.press('Escape');
    const rej = await bridge.waitFor('reject');
    assert.deepEqual(rej, { type: 'reject', call_id: 'in-1', reason: 'decline' });
    await stopped(env);
    await callInfo(env, 'You declined the call');
    assert.equal(bridge.sent('accept').length, 0);

    // 2. Alt+Shift+A anywhere in the page accepts; then the outbound controls.
    session.send(incoming('in-2'));
    await ringing(env, 'in-2');
    await page.locator('body').click({ position: { x: 5, y: 5 } }).catch(() => {}); // focus outside the widget
    await page.keyboard.press('Alt+Shift+A');
    assert.equal((await bridge.waitFor('accept')).call_id, 'in-2');
    await stopped(env);
    const call = { call_id: 'in-2', request_id: '', to: '+14155550100', from: CALLER, state: '' };
    session.calls.set(call.call_id, call);
    session.callState(call, 'answered');
    await callInfo(env, 'Connected');
    await callInfo(env, 'Ada Prospect');
    assert.equal(await phone.getByRole('button', { name: 'Mute' }).isEnabled(), true);
    assert.equal(await phone.getByRole('button', { name: 'Hold' }).isEnabled(), true);
    assert.equal(await env.widget((p) => p.sendDigits('5')), true);
    assert.equal((await bridge.waitFor('dtmf')).call_id, 'in-2');
    await phone.getByRole('button', { name: 'Hang up' }).click();
    assert.equal((await bridge.waitFor('hangup')).call_id, 'in-2');
    await callInfo(env, 'You hung up');

    // 3. Another page of the seat answers: this one stops at once.
    session.send(incoming('in-3'));
    await ringing(env, 'in-3');
    session.send({ type: 'call_state', call_id: 'in-3', request_id: '', state: 'ended', to: '+14155550100', from: CALLER,
      cause: { q850: 26, reason: 'answered_elsewhere', by: 'bridge' } });
    await stopped(env);
    await callInfo(env, 'Answered on another device');

    // 4. The caller hangs up while it rings.
    session.send(incoming('in-4'));
    await ringing(env, 'in-4');
    session.send({ type: 'call_state', call_id: 'in-4', request_id: '', state: 'ended', to: '+14155550100', from: CALLER,
      cause: { sip_code: 487, reason: 'caller hung up', by: 'remote' } });
    await stopped(env);
    await callInfo(env, 'The caller hung up');

    assert.deepEqual(await page.evaluate(() => window.incomingEvents), [
      'in-1', 'end in-1 declined agent', 'in-2', 'in-3', 'end in-3 answered_elsewhere bridge', 'in-4', 'end in-4 caller hung up remote',
    ]);
    assert.equal((await env.events('callended')).length, 1, 'one callended: the answered call');
    assert.equal(bridge.sent('accept').length, 1);
  } finally { await env.close(); }
});

test('incoming call in German, Decline button, and a desktop notification while the page is hidden', async () => {
  const env = await openDemo(browser, {
    path: '/test/embed.html',
    initScript: () => {
      // The page is in the background, and the user allowed notifications.
      Object.defineProperty(document, 'hidden', { get: () => true });
      window.notes = [];
      window.Notification = class {
        static permission = 'granted';
        static requestPermission() { return Promise.resolve('granted'); }
        constructor(title, opts) { this.title = title; this.body = opts.body; this.closed = false; window.notes.push(this); }
        close() { this.closed = true; }
      };
    },
  });
  try {
    const { page, phone, bridge } = env;
    await env.widget((p) => { p.setAttribute('lang', 'de'); return true; });
    await status(env, 'Bereit');
    assert.equal(await env.widget((p) => p.enableNotifications()), 'granted');
    const session = bridge.session();
    session.send(incoming('in-1', { display_name: 'Ada' }));
    await ringing(env, 'in-1');
    const l = await look(env);
    assert.match(l.text, /Eingehender Anruf/);
    assert.match(l.text, /Ada \+14155559876/);
    const notes = await page.evaluate(() => window.notes.map((n) => ({ title: n.title, body: n.body, closed: n.closed })));
    assert.deepEqual(notes, [{ title: 'Eingehender Anruf', body: 'Eingehender Anruf von Ada (+14155559876)', closed: false }]);
    await phone.getByRole('button', { name: 'Ablehnen' }).click();
    assert.equal((await bridge.waitFor('reject')).call_id, 'in-1');
    await stopped(env);
    assert.equal(await page.evaluate(() => window.notes[0].closed), true, 'the notification closes with the ringing');
    await callInfo(env, 'Sie haben den Anruf abgelehnt');
    // Without the attribute, no notification.
    await env.widget((p) => { p.removeAttribute('notifications'); return true; });
    session.send(incoming('in-2'));
    await ringing(env, 'in-2');
    assert.equal(await page.evaluate(() => window.notes.length), 1);
    await phone.getByRole('button', { name: 'Annehmen' }).click();
    assert.equal((await bridge.waitFor('accept')).call_id, 'in-2');
    await stopped(env);
  } finally { await env.close(); }
});
