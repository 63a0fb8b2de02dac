// The demo CRM page served by the real bridge, opened in a fresh browser
// context, with the widget's events and the signaling frames recorded for
// assertions.
import { eventually } from './harness.js';

const EVENTS = ['ready', 'resumed', 'statechange', 'callended', 'error', 'dtmf'];

/**
 * Opens `${bridge.url}/demo/` and waits until the widget is Ready with ICE
 * connected. Returns helpers:
 *   w(fn)           runs fn(widget) in the page
 *   events(type)    the widget's events of that type so far
 *   frames(type)    signaling messages of that type the bridge sent ('<' ) or the page sent ('>')
 *   callInfo(text)  waits until the call line shows text
 */
export async function openBridgeDemo(browser, bridge) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('[page pageerror]', e.message));
  if (process.env.BROWSER_LOG) page.on('console', (m) => console.log('[page console]', m.text()));
  const wsFrames = [];
  page.on('websocket', (ws) => {
    const rec = (dir) => (f) => {
      try { wsFrames.push({ dir, at: Date.now(), msg: JSON.parse(String(f.payload)) }); } catch { /* not JSON */ }
    };
    ws.on('framereceived', rec('<'));
    ws.on('framesent', rec('>'));
  });
  await page.addInitScript((types) => {
    window.widgetEvents = [];
    for (const type of types) {
      document.addEventListener(type, (e) => { if (e.target?.localName === 'callbridge-softphone') window.widgetEvents.push({ type, detail: e.detail }); }, true);
    }
  }, EVENTS);
  await page.goto(`${bridge.url}/demo/`);
  const phone = page.locator('callbridge-softphone');
  await phone.locator('.status-text').filter({ hasText: 'Ready' }).waitFor({ timeout: 15000 });
  await eventually(() => page.evaluate(() => document.querySelector('callbridge-softphone').peerConnection?.iceConnectionState === 'connected'),
    { what: 'ICE connected to the bridge before any call', timeoutMs: 15000 });
  const w = (fn) => page.evaluate((src) => (0, eval)(`(${src})`)(document.querySelector('callbridge-softphone')), fn.toString());
  const events = (type) => page.evaluate((t) => window.widgetEvents.filter((e) => e.type === t), type);
  const frames = (type, dir = '<') => wsFrames.filter((f) => f.dir === dir && f.msg.type === type).map((f) => f.msg);
  const callInfo = (text, timeout = 15000) => phone.locator('.callinfo').filter({ hasText: text }).waitFor({ timeout });
  return { ctx, page, phone, w, events, frames, callInfo };
}
