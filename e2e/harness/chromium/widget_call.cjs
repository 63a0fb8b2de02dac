// Places one call with the real softphone widget, served by the real bridge
// and embedded in a page of another origin (a CRM served by this script on
// 127.0.0.1), in headless Chromium with a fake microphone, and prints what it observed as
//   RESULT {"states":[...],"hz":[...],"level":[...],...}
// for the Go test (e2e/chromium_test.go) to assert on. It asserts nothing
// itself beyond the call reaching "answered"; it exits non-zero on errors.
//
// Environment: BRIDGE_URL (http://127.0.0.1:PORT of the bridge), TOKEN
// (a seat token), DIAL (number as an agent types it), MIC_WAV (absolute path
// of the fake microphone's WAV), CALL_SECS (how long to listen, default 3),
// AUDIO_PROCESSING (on|off: the widget attribute), HANGUP (agent|remote: remote waits for the far end to end the call),
// CHROMIUM_PATH, E2E_ARTIFACTS (screenshots; may be empty).
// playwright-core comes from e2e/browser/node_modules (NODE_PATH).
'use strict';
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
const TOKEN = env('TOKEN');
const DIAL = env('DIAL');
const MIC = env('MIC_WAV');
const SECS = Number(env('CALL_SECS', '3'));
const HANGUP = env('HANGUP', 'agent');
const ART = env('E2E_ARTIFACTS', '');

async function shot(page, name) {
  if (!ART) return;
  await page.screenshot({ path: path.join(ART, `${name}.png`) }).catch(() => {});
}

(async () => {
  const browser = await chromium.launch({
    executablePath: env('CHROMIUM_PATH', '/usr/bin/chromium'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${MIC}`, // absolute, or Chromium captures silence
      '--autoplay-policy=no-user-gesture-required'],
  });
  const result = { states: [], hz: [], level: [], errors: [] };
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => result.errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' || process.env.BROWSER_LOG) console.log(`[console.${m.type()}]`, m.text()); });
    // The CRM's page on its own origin embeds the bridge's widget: one script
    // tag (a cross-origin module, fetched with CORS) and the element.
    const wsURL = BRIDGE.replace(/^http/, 'ws') + '/v1/ws';
    const crm = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><title>CRM</title>
<script type="module" src="${BRIDGE}/softphone.js"></script>
<callbridge-softphone server="${wsURL}" audio-processing="${env('AUDIO_PROCESSING', 'on')}" manual></callbridge-softphone>`);
    });
    await new Promise((ok) => crm.listen(0, '127.0.0.1', ok));
    result.crm_origin = `http://127.0.0.1:${crm.address().port}`;
    await page.goto(`${result.crm_origin}/contact/42`);
    await page.waitForFunction(() => customElements.get('callbridge-softphone'));
    await page.evaluate(async (token) => {
      const p = document.querySelector('callbridge-softphone');
      window.e2eStates = [];
      p.addEventListener('statechange', (e) => window.e2eStates.push(e.detail));
      p.addEventListener('callended', (e) => { window.e2eEnded = e.detail; });
      p.getToken = async () => token;
      await p.connect();
    }, TOKEN);
    await page.waitForFunction(() => {
      const p = document.querySelector('callbridge-softphone');
      return p.status === 'ready' && ['connected', 'completed'].includes(p.peerConnection?.iceConnectionState);
    }, null, { timeout: 20000 }).catch(async (e) => {
      const st = await page.evaluate(() => {
        const p = document.querySelector('callbridge-softphone');
        return { status: p.status, ice: p.peerConnection?.iceConnectionState, text: p.shadowRoot?.textContent?.replace(/\s+/g, ' ').slice(0, 300) };
      });
      throw new Error(`widget not ready with media: ${JSON.stringify(st)}: ${e.message}`);
    });
    await shot(page, 'chromium-ready');
    result.call_id = await page.evaluate((n) => document.querySelector('callbridge-softphone').call(n, { metadata: { source: 'e2e-chromium' } }), DIAL);
    await page.waitForFunction(() => window.e2eStates.some((s) => s.state === 'answered' || s.state === 'ended'), null, { timeout: 20000 });
    for (let i = 0; i < SECS * 4; i++) {
      await page.waitForTimeout(250);
      const m = await page.evaluate(() => {
        const p = document.querySelector('callbridge-softphone');
        return { hz: p.remoteDominantHz(), level: p.remoteLevel() };
      });
      result.hz.push(m.hz);
      result.level.push(m.level);
    }
    await shot(page, 'chromium-in-call');
    const pair = await page.evaluate(async () => {
      const stats = await document.querySelector('callbridge-softphone').peerConnection.getStats();
      let out = null;
      stats.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
          const l = stats.get(s.localCandidateId), r = stats.get(s.remoteCandidateId);
          out = { local: l?.address, local_type: l?.candidateType, remote: r?.address, remote_type: r?.candidateType };
        }
      });
      return out;
    });
    result.pair = pair;
    if (HANGUP === 'agent') await page.evaluate(() => document.querySelector('callbridge-softphone').hangup());
    await page.waitForFunction(() => window.e2eEnded, null, { timeout: 20000 });
    result.states = await page.evaluate(() => window.e2eStates.map((s) => s.state));
    result.ended = await page.evaluate(() => window.e2eEnded);
    await shot(page, 'chromium-ended');
  } catch (e) {
    result.errors.push(String(e && e.stack || e));
    console.log('RESULT ' + JSON.stringify(result));
    await browser.close();
    process.exit(1);
  }
  console.log('RESULT ' + JSON.stringify(result));
  await browser.close();
  process.exit(0); // the CRM server would keep node running
})();
