// A CRM developer's first hour, against the real bridge in demo mode: the
// README's embed snippet works as written on a page of another origin
// (its tel: link places a call through the bridge to the demo trunk); an
// insecure page says it needs HTTPS or localhost; a page whose origin the
// bridge refuses says so; the widget speaks the page's language and mirrors
// in a right-to-left page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, writeToneWav, eventually, newPage } from '../lib/harness.js';
import { bridgeBinary, startDemoBridge } from '../lib/real-bridge.js';
import { startCRMSite, nonLoopbackIPv4, pointAtBridge } from '../lib/crm-site.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The README's ```html block that embeds the widget. */
function readmeSnippet() {
  const md = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const blocks = [...md.matchAll(/```html\n([\s\S]*?)```/g)].map((m) => m[1]);
  const snippet = blocks.find((b) => b.includes('<callbridge-softphone'));
  assert.ok(snippet, 'README has an html block embedding <callbridge-softphone>');
  return snippet;
}

let browser;
let bridge;
let crm; // allowed by the bridge
let other; // not allowed
before(async () => {
  crm = await startCRMSite();
  other = await startCRMSite();
  bridge = await startDemoBridge(bridgeBinary(), { env: { BRIDGE_HTTP_ALLOWED_ORIGINS: crm.origin } });
  crm.setBridge(bridge.url);
  other.setBridge(bridge.url);
  const page = `<!doctype html><html lang="en"><meta charset="utf-8"><title>CRM</title><body>\n${pointAtBridge(readmeSnippet(), bridge.url)}</body></html>`;
  crm.files['/crm/'] = { body: page };
  other.files['/crm/'] = { body: page };
  browser = await launchBrowser(writeToneWav(1000));
});
after(async () => {
  await browser?.close();
  await bridge?.stop();
  await crm?.close();
  await other?.close();
});

async function open(url, init) {
  const ctx = await browser.newContext();
  if (init) await ctx.addInitScript(init);
  await ctx.addInitScript(() => {
    window.widgetEvents = [];
    for (const type of ['ready', 'statechange', 'callended', 'error', 'connectionchange']) {
      document.addEventListener(type, (e) => { if (e.target?.localName === 'callbridge-softphone') window.widgetEvents.push({ type, detail: e.detail }); }, true);
    }
  });
  const page = await newPage(ctx, url);
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const phone = page.locator('callbridge-softphone');
  const events = (type) => page.evaluate((t) => window.widgetEvents.filter((e) => e.type === t), type);
  return { ctx, page, phone, events, sockets };
}

test("the README's snippet, as written, calls from its tel: link", async () => {
  const s = await open(crm.url('/crm/'));
  try {
    await s.phone.locator('.status-text').filter({ hasText: 'Ready' }).waitFor({ timeout: 15000 });
    // A real CRM's agent sees a generic placeholder, not a demo number.
    assert.equal(await s.phone.locator('.number').getAttribute('placeholder'), 'Number to call');
    await s.page.getByRole('link', { name: '+44 20 7183 8750' }).click();
    // The demo trunk knows no +44 number: a real INVITE, answered 404.
    const ended = await eventually(async () => (await s.events('callended'))[0], { what: 'the call to end', timeoutMs: 15000 });
    assert.equal(ended.detail.cause?.sip_code, 404);
    const states = await s.events('statechange');
    assert.equal(states[0].detail.to, '+442071838750');
    assert.equal(states[0].detail.state, 'dialing');
    await s.phone.locator('.callinfo').filter({ hasText: 'Number not found' }).waitFor({ timeout: 5000 });
    // A failed call stands out: the refusal is shown in the danger colour and bold.
    const weight = await s.phone.locator('.callinfo').evaluate((n) => getComputedStyle(n).fontWeight);
    assert.ok(Number(weight) >= 700, `call-failed text weight ${weight}`);
  } finally { await s.ctx.close(); }
});

test('a page on plain http (not localhost) needs HTTPS: says so, Call stays off, no connection', async () => {
  const ip = nonLoopbackIPv4();
  assert.ok(ip, 'a non-loopback address in this namespace');
  // Chromium keeps an insecure page from loading scripts off loopback
  // (Private Network Access), so this page gets the widget from its own site.
  crm.files['/softphone.js'] = { file: path.join(repoRoot, 'web/softphone/softphone.js') };
  crm.files['/crm/insecure'] = { body: crm.files['/crm/'].body.replace(`${bridge.url}/softphone.js`, '/softphone.js') };
  const s = await open(`http://${ip}:${crm.port}/crm/insecure`);
  try {
    await s.phone.locator('.error .msg').filter({ hasText: 'needs HTTPS or localhost' }).waitFor({ timeout: 10000 });
    await s.phone.locator('.status-text').filter({ hasText: 'Needs HTTPS' }).waitFor({ timeout: 5000 });
    assert.equal(await s.phone.getByRole('button', { name: 'Call', exact: true }).isDisabled(), true);
    const errors = (await s.events('error')).map((e) => e.detail.code);
    assert.deepEqual(errors, ['insecure_context']);
    assert.deepEqual(s.sockets, [], 'no WebSocket opened');
  } finally { await s.ctx.close(); }
});

test('a page origin the bridge refuses shows the reason and stops retrying', async () => {
  const s = await open(other.url('/crm/'));
  try {
    await s.phone.locator('.error .msg').filter({ hasText: `does not accept this page (${other.origin})` }).waitFor({ timeout: 15000 });
    await s.phone.locator('.status-text').filter({ hasText: 'Not connected' }).waitFor({ timeout: 5000 });
    const errors = (await s.events('error')).map((e) => e.detail.code);
    assert.deepEqual(errors, ['origin_not_allowed']);
    const tries = s.sockets.length;
    assert.ok(tries >= 1);
    // No reconnect loop: the status stays, no new handshake follows.
    await s.page.waitForTimeout(1500);
    assert.equal(s.sockets.length, tries);
    assert.equal(await s.phone.locator('.status-text').textContent(), 'Not connected');
    assert.match(bridge.log(), /websocket refused: origin not in http.allowed_origins/);
  } finally { await s.ctx.close(); }
});

test("the widget speaks the page's language (German) and mirrors in a right-to-left page", async () => {
  crm.files['/crm/de'] = { body: crm.files['/crm/'].body.replace('<html lang="en">', '<html lang="de">') };
  crm.files['/crm/rtl'] = { body: crm.files['/crm/'].body.replace('<html lang="en">', '<html lang="ar" dir="rtl">') };
  const de = await open(crm.url('/crm/de'));
  try {
    await de.phone.locator('.status-text').filter({ hasText: 'Bereit' }).waitFor({ timeout: 15000 });
    assert.equal(await de.phone.getByRole('button', { name: 'Anrufen' }).count(), 1);
    assert.equal(await de.phone.getByRole('button', { name: 'Stumm' }).count(), 1);
    assert.equal(await de.page.evaluate(() => document.querySelector('callbridge-softphone').language), 'de');
    // lang on the element wins over the page's; switching re-renders the words.
    await de.page.evaluate(() => document.querySelector('callbridge-softphone').setAttribute('lang', 'en'));
    await de.phone.getByRole('button', { name: 'Call', exact: true }).waitFor({ timeout: 5000 });
    await de.phone.locator('.status-text').filter({ hasText: 'Ready' }).waitFor({ timeout: 5000 });
  } finally { await de.ctx.close(); }
  const rtl = await open(crm.url('/crm/rtl'));
  try {
    await rtl.phone.locator('.status-text').filter({ hasText: 'Ready' }).waitFor({ timeout: 15000 });
    const x = await rtl.phone.evaluate((el) => {
      const r = (s) => el.shadowRoot.querySelector(s).getBoundingClientRect();
      return { dot: r('.dot').left, text: r('.status-text').left, number: getComputedStyle(el.shadowRoot.querySelector('.number')).direction };
    });
    assert.ok(x.dot > x.text, `the status dot sits right of its text in RTL: ${JSON.stringify(x)}`);
    assert.equal(x.number, 'ltr', 'phone numbers stay left to right');
  } finally { await rtl.ctx.close(); }
});

test('the demo call log has room for three-digit item numbers', async () => {
  const ctx = await browser.newContext();
  try {
    const page = await newPage(ctx, `${bridge.url}/demo/`);
    const fit = await page.evaluate(() => {
      const log = document.getElementById('log');
      for (let i = 0; i < 120; i++) { const li = document.createElement('li'); li.textContent = `entry ${i}`; log.append(li); }
      // The marker of item 100 ("100. ") is drawn in the list's start padding.
      const probe = document.createElement('span');
      probe.textContent = '100. ';
      probe.style.cssText = 'position:absolute; white-space:pre; font:inherit';
      log.append(probe);
      const need = probe.getBoundingClientRect().width;
      probe.remove();
      return { need, have: parseFloat(getComputedStyle(log).paddingInlineStart) };
    });
    assert.ok(fit.have >= fit.need, `start padding ${fit.have}px, "100." needs ${fit.need}px`);
  } finally { await ctx.close(); }
});
