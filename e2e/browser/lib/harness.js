// Shared set-up for the browser tests: Debian's headless Chromium driven by
// playwright-core with a fake microphone fed from a WAV tone.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const artifactsDir = path.resolve(here, '../artifacts');

/** Writes a mono 16-bit PCM WAV with a sine tone and returns its absolute path. */
export function writeToneWav(hz, { seconds = 30, rate = 48000, amplitude = 0.5 } = {}) {
  const n = seconds * rate;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24); h.writeUInt32LE(rate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36); h.writeUInt32LE(data.length, 40);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'callbridge-wav-'));
  // Chromium needs an absolute path; a relative one gives silence without an error.
  const file = path.join(dir, `tone${hz}.wav`);
  fs.writeFileSync(file, Buffer.concat([h, data]));
  return file;
}

/**
 * Reports whether this process runs in a named network namespace (made with
 * `ip netns add`): run-sealed.sh's, or one a Go e2e harness made.
 */
export function inOwnNetns() {
  if (process.env.CALLBRIDGE_NETNS === 'inside') return true;
  try {
    // Prints the name of the named namespace this process is in; empty on the host.
    return execFileSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Launches headless Chromium with a fake microphone playing wavPath in a loop. */
export async function launchBrowser(wavPath) {
  // Chromium's ICE host candidates use the machine's non-loopback addresses;
  // run-sealed.sh keeps all of that inside a namespace made for the run.
  if (!inOwnNetns() && process.env.CALLBRIDGE_ALLOW_HOST_NETWORK !== '1') {
    throw new Error('run the browser tests with `npm test` (run-sealed.sh), or inside a network namespace made for them');
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wavPath}`,
      '--autoplay-policy=no-user-gesture-required'],
  });
}

/** Opens a page that logs console errors and page errors to the test output. */
export async function newPage(context, url, label = 'page') {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || process.env.BROWSER_LOG) console.log(`[${label} console.${m.type()}]`, m.text()); });
  page.on('pageerror', (e) => console.log(`[${label} pageerror]`, e.message));
  if (url) await page.goto(url);
  return page;
}

/** Saves a screenshot of the widget (or the whole page) under artifacts/. */
export async function shot(page, name, { fullPage = false } = {}) {
  fs.mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  if (fullPage) await page.screenshot({ path: file });
  else await page.locator('callbridge-softphone').screenshot({ path: file });
  return file;
}

/** Polls fn (in Node) until it returns a truthy value or the deadline passes. */
export async function eventually(fn, { timeoutMs = 10000, intervalMs = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last value: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
