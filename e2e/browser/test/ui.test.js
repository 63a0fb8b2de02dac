// The widget's words for errors, keyboard-only use, click-to-call bindings,
// the getToken hook and the postMessage API for iframes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, writeToneWav, shot, eventually } from '../lib/harness.js';
import { openDemo, callInfo, status } from '../lib/setup.js';

let browser;
before(async () => { browser = await launchBrowser(writeToneWav(440)); });
after(async () => { await browser?.close(); });

// Every refusal the bridge can send for a call, with the words the agent sees.
const CALL_ERRORS = [
  ['invalid_number', 'That phone number is not valid'],
  ['caller_id_not_allowed', 'You are not allowed to call from that number'],
  ['destination_not_allowed', 'Calls to that destination are not allowed'],
  ['too_many_calls', 'You already have a call in progress'],
  ['rate_limited', 'Too many calls in a short time'],
  ['no_media', 'The audio connection could not be set up'],
  ['trunk_unavailable', 'The phone line is down'],
  ['internal', 'refused: internal'], // the bridge's own words: only it knows why
];

test('bridge refusals show clear words and reject call()', async (t) => {
  let reply = null;
  const env = await openDemo(browser, {
    bridgeOpts: { onCall: (b, session, call) => session.send({ type: 'error', request_id: call.request_id, code: reply, message: `refused: ${reply}` }) },
  });
  try {
    await status(env, 'Ready');
    for (const [code, words] of CALL_ERRORS) {
      await t.test(code, async () => {
        reply = code;
        const err = await env.page.evaluate(() => document.querySelector('callbridge-softphone').call('+1 555 010 0001').then(() => null, (e) => ({ code: e.code, message: e.message })));
        assert.equal(err.code, code);
        const alert = env.phone.getByRole('alert');
        await alert.filter({ hasText: words }).waitFor();
        const ev = (await env.events('error')).at(-1);
        assert.equal(ev.detail.code, code);
        assert.ok(ev.detail.request_id, 'the error event names the request');
        assert.equal(await env.phone.getByRole('button', { name: 'Call' }).isEnabled(), true, 'ready for another try');
        if (code === 'trunk_unavailable') await shot(env.page, 'error-trunk-down');
        if (code === 'invalid_number') await shot(env.page, 'error-invalid-number');
      });
    }
    // The local check refuses an empty number without asking the bridge.
    const before = env.bridge.sent('call').length;
    await env.phone.locator('.number').fill('');
    await env.phone.getByRole('button', { name: 'Call' }).click();
    await env.phone.getByRole('alert').filter({ hasText: 'That phone number is not valid' }).waitFor();
    assert.equal(env.bridge.sent('call').length, before);
    // Dismiss hides the message and gives focus back to the number field.
    await env.phone.getByRole('button', { name: 'Dismiss message' }).click();
    assert.equal(await env.phone.getByRole('alert').isVisible(), false);
  } finally { await env.close(); }
});

test('a refused token shows sign-in words after one retry with a fresh token', async () => {
  const env = await openDemo(browser, { bridgeOpts: { acceptToken: () => false } });
  try {
    await env.phone.getByRole('alert').filter({ hasText: 'Sign-in to the phone service failed' }).waitFor();
    await status(env, 'Not connected');
    assert.deepEqual(env.bridge.sent('hello').map((h) => h.token), ['tok-1', 'tok-2']);
    assert.equal(await env.phone.getByRole('button', { name: 'Call' }).isDisabled(), true);
    await shot(env.page, 'error-unauthorized');
  } finally { await env.close(); }
});

test('token endpoint refusing (401) is reported as a sign-in problem', async () => {
  const env = await openDemo(browser, { path: '' });
  try {
    env.bridge.tokenStatus = 401;
    await env.page.goto(`${env.bridge.url}/demo/`);
    await env.phone.getByRole('alert').filter({ hasText: 'Sign-in to the phone service failed' }).waitFor();
    assert.equal(env.bridge.sent('hello').length, 0);
  } finally { await env.close(); }
});

test('blocked microphone is explained', async () => {
  const env = await openDemo(browser, {
    initScript: () => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    },
  });
  try {
    await env.phone.getByRole('alert').filter({ hasText: 'Microphone access is blocked' }).waitFor();
    const ev = (await env.events('error')).find((e) => e.detail.code === 'mic_blocked');
    assert.ok(ev, 'error event mic_blocked');
    assert.equal(env.bridge.sent('offer').length, 0, 'no media offer without a microphone');
    await shot(env.page, 'error-mic-blocked');
  } finally { await env.close(); }
});

test('keyboard only: focus order, dialing, DTMF and Escape to hang up', async () => {
  const env = await openDemo(browser, { path: '/test/embed.html' });
  try {
    const { page, phone, bridge } = env;
    await status(env, 'Ready');
    const focused = () => page.evaluate(() => {
      const a = document.querySelector('callbridge-softphone').shadowRoot.activeElement;
      return a ? (a.getAttribute('aria-label') || a.textContent.trim() || a.className) : null;
    });
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'number', 'the number field comes first');
    await page.keyboard.type('+1 555 010 000');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), '1');
    // Digits typed while a dial pad key has focus go into the number.
    await page.keyboard.press('1');
    assert.equal(await phone.locator('.number').inputValue(), '+1 555 010 0001');
    // Tab through the pad to the Call button.
    const order = [];
    for (let i = 0; i < 12; i++) { await page.keyboard.press('Tab'); order.push(await focused()); }
    assert.deepEqual(order, ['2 ABC', '3 DEF', '4 GHI', '5 JKL', '6 MNO', '7 PQRS', '8 TUV', '9 WXYZ', 'star', '0 +', 'pound', 'Call']);
    await page.keyboard.press('Enter');
    const { session, call } = await env.nextCall();
    assert.equal(bridge.sent('call')[0].to, '+1 555 010 0001');
    session.callState(call, 'answered');
    await callInfo(env, 'Connected');
    assert.equal(await focused(), 'Hang up', 'focus moves to Hang up when Call disappears');
    await page.keyboard.press('4');
    await page.keyboard.press('*');
    await bridge.waitFor('dtmf', (m) => m.digits === '*');
    assert.deepEqual(bridge.sent('dtmf').map((m) => m.digits), ['4', '*']);
    await page.keyboard.press('Escape');
    assert.equal((await bridge.waitFor('hangup')).call_id, call.call_id);
    await callInfo(env, 'You hung up');
    assert.equal(await focused(), 'Call', 'focus returns to Call');
  } finally { await env.close(); }
});

test('click-to-call: data-callbridge-number elements by keyboard, bad metadata, opt-in only', async () => {
  const env = await openDemo(browser);
  try {
    const { page, bridge } = env;
    await status(env, 'Ready');
    // The non-link number is focusable and announced as a button.
    const span = page.getByRole('button', { name: '+1 555 010 0006' });
    await span.focus();
    await page.keyboard.press('Enter');
    const first = await env.nextCall();
    assert.equal(bridge.sent('call')[0].to, '+15550100006');
    assert.deepEqual(bridge.sent('call')[0].metadata, { contact_id: 'c-1006', crm: 'acme-demo' });
    first.session.callState(first.call, 'ended', { cause: { sip_code: 486, by: 'remote' } });
    await callInfo(env, 'Busy');

    // Malformed metadata: the call is placed without it and the error is reported.
    await page.evaluate(() => {
      const a = document.createElement('a');
      a.href = 'tel:+1-555-010-0001;ext=12';
      a.textContent = 'bad meta';
      a.setAttribute('data-callbridge-metadata', '{not json');
      document.body.append(a);
    });
    await page.getByRole('link', { name: 'bad meta' }).click();
    await env.nextCall();
    const m = bridge.sent('call')[1];
    assert.equal(m.to, '+1-555-010-0001', 'tel: parameters are stripped (RFC 3966)');
    assert.equal(m.metadata, undefined);
    assert.ok((await env.events('error')).some((e) => e.detail.code === 'bad_metadata'));
  } finally { await env.close(); }

  // Without bindClickToCall, tel: links are left alone.
  const plain = await openDemo(browser, { path: '/test/embed.html' });
  try {
    await status(plain, 'Ready');
    await plain.page.evaluate(() => { const a = document.createElement('a'); a.href = 'tel:+15550100001'; a.textContent = 'plain'; a.onclick = (e) => { window.defaultPrevented = e.defaultPrevented; e.preventDefault(); }; document.body.append(a); });
    await plain.page.getByRole('link', { name: 'plain' }).click();
    assert.equal(await plain.page.evaluate(() => window.defaultPrevented), false);
    assert.equal(plain.bridge.sent('call').length, 0);
  } finally { await plain.close(); }
});

test('getToken hook and manual connect', async () => {
  const env = await openDemo(browser, { path: '/test/farend.html' });
  try {
    await env.page.evaluate(async (origin) => {
      await import(`${origin}/softphone.js`);
      const p = document.createElement('callbridge-softphone');
      p.setAttribute('manual', '');
      p.getToken = async () => 'tok-from-hook';
      document.body.append(p);
    }, env.bridge.url);
    await env.page.waitForTimeout(300);
    assert.equal(env.bridge.sent('hello').length, 0, 'manual: no connection until connect()');
    await env.page.evaluate(() => document.querySelector('callbridge-softphone').connect());
    const hello = await env.bridge.waitFor('hello');
    assert.equal(hello.token, 'tok-from-hook');
    assert.equal(env.bridge.tokensIssued, 0, 'token-url not used');
  } finally { await env.close(); }
});

test('sendDigits refuses characters outside 0-9 * # A-D', async () => {
  const env = await openDemo(browser);
  try {
    await status(env, 'Ready');
    await env.page.getByRole('link', { name: '+1 555 010 0001' }).click();
    const { session, call } = await env.nextCall();
    session.callState(call, 'answered');
    await callInfo(env, 'Connected');
    const cases = [['12x', false], ['1'.repeat(33), false], ['', false], ['9#a', true]];
    for (const [d, ok] of cases) assert.equal(await env.widget((p, a) => p.sendDigits(a), d), ok, `sendDigits(${JSON.stringify(d)})`);
    await env.bridge.waitFor('dtmf');
    assert.deepEqual(env.bridge.sent('dtmf').map((m) => m.digits), ['9#A']);
  } finally { await env.close(); }
});

test('postMessage API in an iframe honours the origin allow-list', async (t) => {
  for (const [name, allowed] of [['allowed origin', true], ['other origin', false]]) {
    await t.test(name, async () => {
      const env = await openDemo(browser, { path: '' });
      try {
        const { bridge, page } = env;
        // The CRM (host) is on http://localhost:P, the widget's iframe on http://127.0.0.1:P.
        const hostOrigin = `http://localhost:${bridge.port}`;
        const frameSrc = `${bridge.url}/test/embed.html?allow=${encodeURIComponent(allowed ? hostOrigin : 'https://crm.example.com')}`;
        await page.goto(`${hostOrigin}/test/host.html?src=${encodeURIComponent(frameSrc)}`);
        const frame = page.frameLocator('#phone');
        await frame.locator('callbridge-softphone .status-text').filter({ hasText: 'Ready' }).waitFor();
        await page.evaluate(() => window.rpc('call', '+15550100001', { metadata: { ticket: 42 } }));
        if (!allowed) {
          await page.waitForTimeout(1500);
          assert.equal(bridge.sent('call').length, 0, 'a message from an origin not in the list is ignored');
          assert.deepEqual(await page.evaluate(() => window.received), []);
          return;
        }
        const { session, call } = await env.nextCall();
        assert.deepEqual(bridge.sent('call')[0].metadata, { ticket: 42 });
        session.callState(call, 'answered');
        const reply = await eventually(() => page.evaluate(() => window.received.find((m) => m.data.id === 1)), { what: 'rpc reply' });
        assert.equal(reply.origin, bridge.origin);
        assert.deepEqual(reply.data, { callbridge: 1, id: 1, ok: true, result: call.call_id });
        await eventually(() => page.evaluate(() => window.received.some((m) => m.data.event === 'statechange' && m.data.detail.state === 'answered')), { what: 'statechange event posted to the host' });
        await page.evaluate(() => window.rpc('hangup'));
        assert.equal((await bridge.waitFor('hangup')).call_id, call.call_id);
        await page.evaluate(() => window.rpc('nope'));
        const bad = await eventually(() => page.evaluate(() => window.received.find((m) => m.data.id === 3)), { what: 'reply to unknown method' });
        assert.equal(bad.data.ok, false);
        assert.equal(bad.data.error.code, 'bad_request');
      } finally { await env.close(); }
    });
  }
});

test('audio devices: lists the microphones and speakers, switching keeps the call', async () => {
  const env = await openDemo(browser);
  try {
    const { page, phone } = env;
    await status(env, 'Ready');
    await page.getByRole('link', { name: '+1 555 010 0002' }).click();
    const { session, call } = await env.nextCall();
    session.callState(call, 'answered');
    await callInfo(env, 'Connected');
    await phone.getByText('Audio devices').click();
    const mic = phone.getByRole('combobox', { name: 'Microphone' });
    const spk = phone.getByRole('combobox', { name: 'Speaker' });
    await eventually(async () => (await mic.locator('option').count()) > 0, { what: 'microphones listed' });
    assert.ok((await spk.locator('option').count()) > 0, 'speakers listed');
    await shot(page, 'devices');
    // Pick a microphone: the new track replaces the old one without renegotiation.
    const offers = env.bridge.sent('offer').length;
    const micIds = await mic.locator('option').evaluateAll((os) => os.map((o) => o.value));
    await mic.selectOption(micIds.at(-1));
    await eventually(() => env.far.evaluate(() => window.farLevel() > 0.005), { what: 'far end still hears the microphone' });
    assert.equal(env.bridge.sent('offer').length, offers);
    // Pick a speaker: setSinkId on the remote audio element.
    const spkIds = await spk.locator('option').evaluateAll((os) => os.map((o) => o.value));
    await spk.selectOption(spkIds.at(-1));
    await eventually(() => page.evaluate((id) => document.querySelector('callbridge-softphone').shadowRoot.querySelector('audio').sinkId === id, spkIds.at(-1)), { what: 'sinkId set' });
    assert.equal(await phone.getByRole('alert').isVisible(), false);
  } finally { await env.close(); }
});
