// A CRM web site of its own origin for the embedding tests: serves the
// pages and files a test gives it, and /crm/softphone-token, which fetches a
// seat token from the demo bridge (/demo/token) as a CRM backend would mint
// one. It listens on all addresses of the namespace, so a test can also
// open it on a non-loopback address (not a secure context).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json' };

/**
 * Starts the site. `files` maps a URL path to {body} or {file}; setBridge
 * points the token endpoint at a bridge. Returns {port, origin, url(path),
 * setBridge(url), close()}.
 */
export async function startCRMSite(files = {}) {
  let bridgeURL = '';
  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/crm/softphone-token') {
      try {
        const r = await fetch(`${bridgeURL}/demo/token`);
        res.writeHead(r.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(await r.text());
      } catch (err) {
        res.writeHead(502); res.end(String(err));
      }
      return;
    }
    const f = files[u.pathname];
    if (!f) { res.writeHead(404); res.end('not found'); return; }
    const body = f.file ? fs.readFileSync(f.file) : f.body;
    res.writeHead(200, { 'Content-Type': f.type || TYPES[path.extname(f.file || u.pathname)] || TYPES['.html'], 'Cache-Control': 'no-store' });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '0.0.0.0', r));
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    files,
    url: (p) => origin + p,
    setBridge(url) { bridgeURL = url; },
    close: () => new Promise((r) => server.close(r)),
  };
}

/** The first non-loopback IPv4 address of this namespace (10.99.0.1 in the sealed one), or ''. */
export function nonLoopbackIPv4() {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list || []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '';
}

/** Rewrites the docs' example bridge (bridge.example.com) to a running one. */
export function pointAtBridge(text, bridgeURL) {
  const ws = bridgeURL.replace(/^http/, 'ws');
  return text.replaceAll('wss://bridge.example.com', ws).replaceAll('https://bridge.example.com', bridgeURL);
}
