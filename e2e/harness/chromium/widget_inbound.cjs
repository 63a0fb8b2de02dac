// Two pages of one seat answer inbound calls with the real softphone widget
// (served by the real bridge, embedded in a CRM page of another origin) in
// headless Chromium with a fake microphone. The Go test (e2e/inbound_test.go)
// is the carrier; the two sides meet through files in SYNC_DIR:
//   this script writes `ready1` → the carrier calls; both pages ring, page 1
//   accepts, page 2 stops ringing; page 1 listens, then hangs up;
//   this script writes `ready2` → the carrier calls again; both ring; this
//   script writes `ringing2` → the carrier cancels; both stop ringing.
// It prints RESULT {...} with what it observed and exits non-zero on errors.
//
// Environment: BRIDGE_URL, TOKEN and TOKEN2 (seat tokens, one per page), MIC_WAV (absolute path),
// SYNC_DIR, CALL_SECS (default 3), CHROMIUM_PATH, E2E_ARTIFACTS.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');

const env = (k, d) => {
  const v = process.env[k];
  if (v === undefined || v === '') {
    if (d === undefined) throw new Error(`${k} is required`);
    return d;
  }
  return v;
};
const BRIDGE = env('BRIDGE_URL');
const TOKENS = [env('TOKEN'), env('TOKEN2')]; // one per page
const MIC = env('MIC_WAV');
const SYNC = env('SYNC_DIR');
const SECS = Number(env('CALL_SECS', '3'));
const ART = env('E2E_ARTIFACTS', '');

async function shot(page, name) {
  if (!ART) return;
  await page.screenshot({ path: path.join(ART, `${name}.png`) }).catch(() => {});
}

const mark = (name) => fs.writeFileSync(path.join(SYNC, name), '');

// What the page keeps of the widget's events.
function watch() {
  const p = document.querySelector('callbridge-softphone');
  window.e2e = { incoming: [], ended: [], states: [], callended: [] };
  p.addEventListener('incoming', (e) => {
    window.e2e.incoming.push({ call_id: e.detail.call_id, from: e.detail.from, to: e.detail.to, display_name: e.detail.display_name });
    e.detail.setDisplayName('Ada Prospect'); // the CRM's contact lookup
  });
  p.addEventListener('incomingend', (e) => window.e2e.ended.push(e.detail));
  p.addEventListener('statechange', (e) => window.e2e.states.push(e.detail.state));
  p.addEventListener('callended', (e) => window.e2e.callended.push(e.detail));
}

// What the page shows and plays right now.
function look() {
  const p = document.querySelector('callbridge-softphone');
  const panel = p.shadowRoot.querySelector('.incoming');
  return {
    ringing: p.ringing, panel: !panel.hidden, caller: panel.textContent.replace(/\s+/g, ' ').trim(),
    tone_playing: !p.shadowRoot.querySelector('.ringtone').paused, incoming: p.incomingCall?.call_id || '',
  };
}

(async () => {
  const browser = await chromium.launch({
    executablePath: env('CHROMIUM_PATH', '/usr/bin/chromium'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${MIC}`,
      '--autoplay-policy=no-user-gesture-required'],
  });
  const result = { errors: [], hz: [], level: [] };
  try {
    const wsURL = BRIDGE.replace(/^http/, 'ws') + '/v1/ws';
    const crm = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><title>CRM</title>
<script type="module" src="${BRIDGE}/softphone.js"></script>
<callbridge-softphone server="${wsURL}" audio-processing="off" lang="en" manual></callbridge-softphone>`);
    });
    await new Promise((ok) => crm.listen(0, '127.0.0.1', ok));
    const pages = [];
    for (let i = 0; i < 2; i++) {
      const page = await (await browser.newContext()).newPage();
      page.on('pageerror', (e) => result.errors.push(`page ${i + 1}: ${e.message}`));
      await page.goto(`http://127.0.0.1:${crm.address().port}/contact/42`);
      await page.waitForFunction(() => customElements.get('callbridge-softphone'));
      await page.evaluate(watch);
      await page.evaluate(async (token) => {
        const p = document.querySelector('callbridge-softphone');
        p.getToken = async () => token;
        await p.connect();
      }, TOKENS[i]);
      await page.waitForFunction(() => {
        const p = document.querySelector('callbridge-softphone');
        return p.status === 'ready' && ['connected', 'completed'].includes(p.peerConnection?.iceConnectionState);
      }, null, { timeout: 20000 });
      pages.push(page);
    }
    const [p1, p2] = pages;
    const ringingBoth = () => Promise.all(pages.map((pg) => pg.waitForFunction(() => document.querySelector('callbridge-softphone').ringing, null, { timeout: 20000 })));

    // Call 1: page 1 accepts with the panel's button.
    mark('ready1');
    await ringingBoth();
    result.ringing1 = await Promise.all(pages.map((pg) => pg.evaluate(look)));
    await shot(p1, 'inbound-ringing');
    await p1.locator('callbridge-softphone').getByRole('button', { name: 'Accept' }).click();
    await p2.waitForFunction(() => window.e2e.ended.length === 1, null, { timeout: 20000 });
    result.after_accept = await Promise.all(pages.map((pg) => pg.evaluate(look)));
    result.p2_ended1 = await p2.evaluate(() => window.e2e.ended[0]);
    await p1.waitForFunction(() => window.e2e.states.includes('answered'), null, { timeout: 20000 });
    for (let i = 0; i < SECS * 4; i++) {
      await p1.waitForTimeout(250);
      const m = await p1.evaluate(() => {
        const p = document.querySelector('callbridge-softphone');
        return { hz: p.remoteDominantHz(), level: p.remoteLevel() };
      });
      result.hz.push(m.hz);
      result.level.push(m.level);
    }
    result.callinfo1 = await p1.evaluate(() => document.querySelector('callbridge-softphone').shadowRoot.querySelector('.callinfo').textContent);
    await shot(p1, 'inbound-answered');
    await p1.locator('callbridge-softphone').getByRole('button', { name: 'Hang up' }).click();
    await p1.waitForFunction(() => window.e2e.callended.length === 1, null, { timeout: 20000 });
    result.p1_callended1 = await p1.evaluate(() => window.e2e.callended[0]);

    // Call 2: the caller hangs up while both pages ring.
    mark('ready2');
    await ringingBoth();
    result.ringing2 = await Promise.all(pages.map((pg) => pg.evaluate(look)));
    mark('ringing2');
    await Promise.all(pages.map((pg) => pg.waitForFunction(() => window.e2e.ended.length >= 1 && !document.querySelector('callbridge-softphone').incomingCall
      && window.e2e.ended.at(-1).call_id === window.e2e.incoming.at(-1).call_id, null, { timeout: 20000 })));
    result.after_cancel = await Promise.all(pages.map((pg) => pg.evaluate(look)));
    result.ended2 = await Promise.all(pages.map((pg) => pg.evaluate(() => window.e2e.ended.at(-1))));
    result.incoming = await Promise.all(pages.map((pg) => pg.evaluate(() => window.e2e.incoming)));
    await shot(p1, 'inbound-cancelled');
  } catch (e) {
    result.errors.push(String(e && e.stack || e));
    console.log('RESULT ' + JSON.stringify(result));
    await browser.close();
    process.exit(1);
  }
  console.log('RESULT ' + JSON.stringify(result));
  await browser.close();
  process.exit(0);
})();
