// Starts the real bridge binary in demo mode (no config: built-in SIP test
// trunk on loopback, demo seat, demo CRM page) for the browser tests.
//
// CALLBRIDGE_BIN: a built bridge binary; otherwise `go build ./cmd/bridge`
// from the repository into a temporary folder.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Returns the path of a bridge binary, building one when CALLBRIDGE_BIN is unset. */
export function bridgeBinary() {
  if (process.env.CALLBRIDGE_BIN) return process.env.CALLBRIDGE_BIN;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'callbridge-bin-'));
  const bin = path.join(dir, 'bridge');
  execFileSync('go', ['build', '-o', bin, './cmd/bridge'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  return bin;
}

/** The admin token as the demo banner prints it on stdout. */
const ADMIN_TOKEN_LINE = /Admin token for \/v1\/admin\/ and the stats page: (\S+)/;

/**
 * Starts `bridge` in demo mode on 127.0.0.1 and waits for its banner (the
 * demo page's URL and the admin token line). `env` adds BRIDGE_* overrides.
 * Returns {url, adminToken, log(), stop()}.
 */
export async function startDemoBridge(bin, { timeoutMs = 30000, env = {} } = {}) {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const child = spawn(bin, [], {
    cwd: os.tmpdir(),
    env: { ...process.env, BRIDGE_HTTP_LISTEN: addr, BRIDGE_LOG_LEVEL: process.env.BRIDGE_LOG_LEVEL || 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = ''; // stdout and stderr, for failure messages
  let banner = ''; // stdout only
  const onData = (d) => { out += d; if (process.env.BRIDGE_LOG) process.stderr.write(`[bridge] ${d}`); };
  child.stdout.on('data', (d) => { banner += d; });
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  const url = `http://${addr}`;
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`bridge did not print ${url}/demo/ and its admin token within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => { if (banner.includes(`${url}/demo/`) && ADMIN_TOKEN_LINE.test(banner)) { clearTimeout(t); resolve(); } };
    child.stdout.on('data', check);
    exited.then(({ code }) => { clearTimeout(t); reject(new Error(`bridge exited (${code}) before it was ready:\n${out}`)); });
  });
  const adminToken = ADMIN_TOKEN_LINE.exec(banner)[1];
  return {
    url,
    adminToken,
    log: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
