// The widget as an npm package: `npm pack` of web/softphone, installed into
// a scratch app; the docs' examples (plain HTML, React, Vue) type-check
// against its declarations with tsc, are bundled with esbuild, and each
// places a call through the real bridge (demo mode) in Chromium and hears
// the demo trunk's 440 Hz tone. The declared methods exist on the element.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { launchBrowser, writeToneWav, eventually, newPage } from '../lib/harness.js';
import { bridgeBinary, startDemoBridge } from '../lib/real-bridge.js';
import { startCRMSite, pointAtBridge } from '../lib/crm-site.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const browserDir = path.resolve(here, '..');
const repoRoot = path.resolve(browserDir, '../..');
const pkgDir = path.join(repoRoot, 'web/softphone');
const examples = path.join(repoRoot, 'docs/examples');
const TONE_HZ = 440;

let scratch; // inside e2e/browser, so react, vue and typescript resolve from its node_modules
let browser;
let bridge;
let site;
before(async () => {
  scratch = fs.mkdtempSync(path.join(browserDir, '.scratch-'));
  site = await startCRMSite();
  bridge = await startDemoBridge(bridgeBinary(), { env: { BRIDGE_HTTP_ALLOWED_ORIGINS: site.origin } });
  site.setBridge(bridge.url);
  browser = await launchBrowser(writeToneWav(1000));
});
after(async () => {
  await browser?.close();
  await bridge?.stop();
  await site?.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('npm pack, install into an app, tsc over the examples, each example calls in Chromium', async (t) => {
  // --- the package ------------------------------------------------------
  const [packed] = JSON.parse(npm(['pack', pkgDir, '--pack-destination', scratch, '--json'], scratch));
  const files = packed.files.map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'softphone.js', 'softphone.d.ts', 'src/index.js', 'src/element.js', 'src/protocol.js', 'src/media.js', 'src/stats.js', 'src/clicktocall.js', 'src/strings.js', 'src/ui.js']) {
    assert.ok(files.includes(f), `${f} in the package (${files.join(', ')})`);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  assert.equal(packed.version, pkg.version);
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.types, './softphone.d.ts');

  const app = path.join(scratch, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch-crm', private: true, type: 'module' }));
  npm(['install', '--no-audit', '--no-fund', '--offline', path.join(scratch, packed.filename)], app);
  const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/@callbridge/softphone/package.json'), 'utf8'));
  assert.equal(installed.version, pkg.version);

  // --- the examples, pointed at this bridge, type-checked -------------------
  for (const d of ['react', 'vue', 'html']) fs.cpSync(path.join(examples, d), path.join(app, d), { recursive: true });
  fs.copyFileSync(path.join(examples, 'tsconfig.json'), path.join(app, 'tsconfig.json'));
  for (const f of ['react/app.tsx', 'vue/app.ts', 'html/index.html']) {
    const p = path.join(app, f);
    fs.writeFileSync(p, pointAtBridge(fs.readFileSync(p, 'utf8'), bridge.url));
  }
  const tsc = path.join(browserDir, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(app, 'tsconfig.json')], { cwd: app, encoding: 'utf8' });
  } catch (err) {
    assert.fail(`tsc --noEmit over the examples:\n${err.stdout}${err.stderr}`);
  }

  // --- bundled as an app would -------------------------------------------
  const build = (entry, out, extra = {}) => esbuild.build({
    entryPoints: [path.join(app, entry)], outfile: path.join(app, 'dist', out), bundle: true, format: 'esm',
    absWorkingDir: app, logLevel: 'silent', define: { 'process.env.NODE_ENV': '"production"' }, ...extra,
  });
  await build('react/app.tsx', 'react.js', { jsx: 'automatic' });
  await build('vue/app.ts', 'vue.js', {
    // The full build: the example's template is compiled in the browser.
    alias: { vue: 'vue/dist/vue.esm-bundler.js' },
    define: { 'process.env.NODE_ENV': '"production"', __VUE_OPTIONS_API__: 'true', __VUE_PROD_DEVTOOLS__: 'false', __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false' },
  });
  const shell = (id, script) => `<!doctype html><html lang="en"><meta charset="utf-8"><title>CRM</title><div id="${id}"></div><script type="module" src="${script}"></script></html>`;
  site.files['/react/'] = { body: shell('root', '/dist/react.js') };
  site.files['/vue/'] = { body: shell('app', '/dist/vue.js') };
  site.files['/dist/react.js'] = { file: path.join(app, 'dist/react.js') };
  site.files['/dist/vue.js'] = { file: path.join(app, 'dist/vue.js') };
  site.files['/html/'] = { file: path.join(app, 'html/index.html') };

  const declared = declaredMethods(fs.readFileSync(path.join(pkgDir, 'softphone.d.ts'), 'utf8'));
  assert.ok(declared.length >= 15, `methods declared: ${declared}`);

  for (const [name, url, dial] of [
    ['plain HTML', '/html/', (page) => page.getByRole('link', { name: '+1 555 010 0002' }).click()],
    ['React', '/react/', (page) => page.getByRole('button', { name: 'Call +15550100002' }).click()],
    ['Vue', '/vue/', (page) => page.getByRole('button', { name: 'Call +15550100002' }).click()],
  ]) {
    await t.test(`${name} example places a call and hears the trunk`, async () => {
      const ctx = await browser.newContext();
      try {
        const page = await newPage(ctx, site.url(url), name);
        const phone = page.locator('callbridge-softphone');
        await phone.locator('.status-text').filter({ hasText: 'Ready' }).waitFor({ timeout: 20000 });
        const missing = await phone.evaluate((el, names) => names.filter((n) => typeof el[n] !== 'function'), declared);
        assert.deepEqual(missing, [], 'methods the declarations promise');
        await eventually(() => page.evaluate(() => document.querySelector('callbridge-softphone').peerConnection?.iceConnectionState === 'connected'),
          { what: 'ICE connected', timeoutMs: 15000 });
        await dial(page);
        await phone.locator('.callinfo').filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
        await eventually(() => phone.evaluate((el) => el.remoteDominantHz()).then((hz) => Math.abs(hz - TONE_HZ) <= 30),
          { what: `${TONE_HZ} Hz from the trunk`, timeoutMs: 15000 });
        await phone.getByRole('button', { name: 'Hang up' }).click();
        await phone.locator('.callinfo').filter({ hasText: 'You hung up' }).waitFor({ timeout: 10000 });
      } finally { await ctx.close(); }
    });
  }
});

/** The method names the declarations give the element class. */
function declaredMethods(dts) {
  const body = dts.slice(dts.indexOf('export declare class CallbridgeSoftphone'));
  const cls = body.slice(0, body.indexOf('\n}\n'));
  const names = [...cls.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]);
  names.push(...[...cls.matchAll(/^ {2}(\w+): \(/gm)].map((m) => m[1])); // function-valued properties (getToken)
  return [...new Set(names)];
}
