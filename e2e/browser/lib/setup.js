// Per-test set-up: a fresh fake bridge, a browser context, the far-end page
// and the demo CRM page with the widget.
import { startFakeBridge } from './fake-bridge.js';
import { newPage } from './harness.js';

/**
 * Opens the demo page against a new fake bridge. Calls are not answered by
 * themselves: each `call` is pushed to `calls` for the test to drive.
 */
export async function openDemo(browser, { bridgeOpts = {}, path = '/demo/', contextOpts = {}, initScript } = {}) {
  const calls = [];
  const bridge = await startFakeBridge({ onCall: (b, session, call) => calls.push({ session, call }), ...bridgeOpts });
  const ctx = await browser.newContext(contextOpts);
  const far = await newPage(ctx, `${bridge.url}/test/farend.html`, 'far');
  await far.evaluate(() => window.farReady);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('[page pageerror]', e.message));
  if (process.env.BROWSER_LOG) page.on('console', (m) => console.log('[page console]', m.text()));
  if (initScript) await page.addInitScript(initScript);
  await page.addInitScript(() => {
    // Record the widget's events in the page for assertions.
    window.widgetEvents = [];
    for (const type of ['ready', 'statechange', 'callended', 'error', 'connectionchange', 'dtmf']) {
      document.addEventListener(type, (e) => { if (e.target?.localName === 'callbridge-softphone') window.widgetEvents.push({ type, detail: e.detail }); }, true);
    }
  });
  if (path) await page.goto(bridge.url + path);
  const phone = page.locator('callbridge-softphone');
  const env = {
    bridge, ctx, far, page, phone, calls,
    seen: 0,
    /** Waits for the next call (or the n-th, 1-based) to reach the fake bridge. */
    async nextCall(n = env.seen + 1) {
      await bridge.waitFor('call', () => calls.length >= n);
      env.seen = Math.max(env.seen, n);
      return calls[n - 1];
    },
    events: (type) => page.evaluate((t) => window.widgetEvents.filter((e) => !t || e.type === t), type),
    widget: (fn, arg) => page.evaluate(([src, a]) => {
      const p = document.querySelector('callbridge-softphone');
      return (0, eval)(`(${src})`)(p, a);
    }, [fn.toString(), arg]),
    async close() { await ctx.close(); await bridge.close(); },
  };
  return env;
}

/** Waits until the widget shows the given text in its call line. */
export async function callInfo(env, text) {
  await env.phone.locator('.callinfo').filter({ hasText: text }).waitFor({ timeout: 10000 });
}

/** Waits until the widget's connection status shows text. */
export async function status(env, text) {
  await env.phone.locator('.status-text').filter({ hasText: text }).waitFor({ timeout: 10000 });
}

/** Takes a call through dialing → ringing → answered. */
export async function answer(env, { session, call }) {
  session.callState(call, 'dialing');
  session.callState(call, 'ringing');
  session.callState(call, 'answered');
  await callInfo(env, 'Connected');
}
