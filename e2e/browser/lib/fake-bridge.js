// A small stand-in for the bridge's browser side, for testing the widget's UI
// and protocol handling in real Chromium without the Go bridge. It speaks
// signaling protocol v1 on /v1/ws and relays the widget's media negotiation to
// a "far end" page (pages/farend.html) in the same browser, so real WebRTC
// audio flows: a 1 kHz tone from the far end to the widget, the widget's fake
// microphone to the far end. Calls are scripted by the test.
//
// Listens on 127.0.0.1 only.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const webRoot = path.join(repoRoot, 'web');
const pagesDir = path.resolve(here, '../pages');

const TYPES = { '.js': 'text/javascript; charset=utf-8', '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8' };

function sendFile(res, file) {
  fs.readFile(file, (err, body) => {
    if (err) { res.writeHead(404); res.end('not found'); return; }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.end(body);
  });
}

/**
 * Starts a fake bridge.
 * @param {object} opts
 * @param {string[]} [opts.callerIds] caller_ids sent in `ready`
 * @param {(bridge, session, msg) => void} [opts.onCall] call script; default: dialing → ringing → answered
 * @param {(bridge, session, msg) => void} [opts.onHold] hold script; default: refuse with error bad_request
 * @param {(token: string) => boolean} [opts.acceptToken] default: any token starting with "tok-"
 */
export async function startFakeBridge(opts = {}) {
  const bridge = {
    messages: [], // every client message: {session, msg, at}
    sessions: new Map(), // session_id → session
    tokensIssued: 0,
    tokenStatus: 200,
    farEnd: null,
    farQueue: [],
    callerIds: opts.callerIds || ['+14155550100'],
    url: '',
    origin: '',
  };
  let sessionSeq = 0;
  let callSeq = 0;
  const waiters = new Set();
  const acceptToken = opts.acceptToken || ((t) => typeof t === 'string' && t.startsWith('tok-'));

  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/favicon.ico') { res.writeHead(204); res.end(); return; }
    if (u.pathname === '/softphone.js') return sendFile(res, path.join(webRoot, 'softphone/softphone.js'));
    if (u.pathname === '/demo/token') {
      if (bridge.tokenStatus !== 200) { res.writeHead(bridge.tokenStatus); res.end('{}'); return; }
      bridge.tokensIssued++;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ token: `tok-${bridge.tokensIssued}` }));
      return;
    }
    if (u.pathname === '/demo/' || u.pathname === '/demo/index.html') return sendFile(res, path.join(webRoot, 'demo/index.html'));
    if (u.pathname.startsWith('/demo/')) return sendFile(res, path.join(webRoot, 'demo', path.basename(u.pathname)));
    if (u.pathname.startsWith('/test/')) return sendFile(res, path.join(pagesDir, path.basename(u.pathname)));
    res.writeHead(404); res.end('not found');
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname !== '/v1/ws' && u.pathname !== '/farend') { socket.destroy(); return; }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (u.pathname === '/farend') attachFarEnd(ws); else attachClient(ws);
    });
  });

  function notify() { for (const w of [...waiters]) w(); }

  function toFar(msg) {
    if (bridge.farEnd && bridge.farEnd.readyState === 1) bridge.farEnd.send(JSON.stringify(msg));
    else bridge.farQueue.push(msg);
  }

  function attachFarEnd(ws) {
    bridge.farEnd = ws;
    for (const m of bridge.farQueue.splice(0)) ws.send(JSON.stringify(m));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      // The far end's answer and candidates go to the session that offered.
      const s = [...bridge.sessions.values()].find((x) => x.id === msg.session_id);
      if (s) s.send(msg.payload);
    });
  }

  function newSession() {
    const s = {
      id: `sess-${++sessionSeq}`,
      ws: null,
      calls: new Map(),
      backlog: [], // messages for a session whose socket is gone, replayed on resume
      send(msg) {
        if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
        else this.backlog.push(msg);
      },
      callState(call, state, extra = {}) {
        call.state = state;
        this.send({ type: 'call_state', call_id: call.call_id, request_id: call.request_id, state, to: call.to, from: call.from, ...extra });
      },
    };
    bridge.sessions.set(s.id, s);
    return s;
  }

  function attachClient(ws) {
    let session = null;
    const helloTimer = setTimeout(() => ws.close(4401, 'hello timeout'), 5000);
    ws.on('close', () => clearTimeout(helloTimer));
    ws.on('message', (data) => {
      let msg;
      try { msg = JSON.parse(String(data)); } catch { ws.close(4400, 'not json'); return; }
      bridge.messages.push({ session: session?.id || '', msg, at: Date.now() });
      try { handle(msg); } finally { notify(); }
    });
    function handle(msg) {
      if (!session) {
        if (msg.type === 'hello') {
          clearTimeout(helloTimer);
          if (!acceptToken(msg.token)) { ws.send(JSON.stringify({ type: 'error', code: 'unauthorized', message: 'bad token' })); ws.close(4401, 'unauthorized'); return; }
          session = newSession();
          session.ws = ws;
          session.token = msg.token;
          session.send({ type: 'ready', session_id: session.id, seat: 'agent-7', caller_ids: bridge.callerIds, ice_servers: [] });
          return;
        }
        if (msg.type === 'resume') {
          clearTimeout(helloTimer);
          const s = bridge.sessions.get(msg.session_id);
          if (!acceptToken(msg.token)) { ws.send(JSON.stringify({ type: 'error', code: 'unauthorized', message: 'bad token' })); ws.close(4401, 'unauthorized'); return; }
          if (!s) { ws.send(JSON.stringify({ type: 'error', code: 'session_not_found', message: 'no live session with that id; send hello' })); ws.close(4401, 'session not found'); return; }
          // Like the bridge: the old socket is closed with 4409, the new one
          // gets `resumed` with the live call ids, then what was missed.
          if (s.ws && s.ws !== ws && s.ws.readyState === 1) s.ws.close(4409, 'resumed elsewhere');
          session = s;
          session.ws = ws;
          session.token = msg.token;
          const live = [...session.calls.values()].filter((c) => c.state !== 'ended').map((c) => c.call_id);
          session.send({ type: 'resumed', session_id: session.id, calls: live });
          for (const m of session.backlog.splice(0)) session.send(m);
          return;
        }
        ws.close(4400, 'expected hello');
        return;
      }
      switch (msg.type) {
        case 'offer':
        case 'candidate':
          toFar({ session_id: session.id, payload: msg });
          break;
        case 'ping':
          session.send({ type: 'pong' });
          break;
        case 'call': {
          const call = { call_id: `call-${++callSeq}`, request_id: msg.request_id, to: msg.to, from: msg.from || bridge.callerIds[0], state: '', metadata: msg.metadata };
          session.calls.set(call.call_id, call);
          (opts.onCall || defaultCall)(bridge, session, call, msg);
          break;
        }
        case 'hangup': {
          const call = session.calls.get(msg.call_id);
          if (!call || call.state === 'ended') { session.send({ type: 'error', code: 'unknown_call', message: 'no such call' }); break; }
          clearTimeout(call.timer);
          session.callState(call, 'ended', { cause: call.state === 'answered' ? { sip_code: 200, q850: 16, reason: 'Normal call clearing', by: 'agent' } : { sip_code: 487, q850: 127, reason: 'Request Terminated', by: 'agent' } });
          break;
        }
        case 'hold':
          (opts.onHold || ((b, s, m) => s.send({ type: 'error', request_id: m.request_id, code: 'bad_request', message: 'hold is not supported' })))(bridge, session, msg);
          break;
        default:
          break;
      }
    }
  }

  function defaultCall(b, session, call) {
    session.callState(call, 'dialing');
    call.timer = setTimeout(() => {
      session.callState(call, 'ringing');
      call.timer = setTimeout(() => session.callState(call, 'answered'), 400);
    }, 200);
  }

  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  bridge.port = port;
  bridge.origin = `http://127.0.0.1:${port}`;
  bridge.url = bridge.origin;

  /** Messages of a type sent by clients so far. */
  bridge.sent = (type) => bridge.messages.filter((m) => m.msg.type === type).map((m) => m.msg);

  /** Waits until a client message matching type (and pred) arrives; returns it. */
  bridge.waitFor = (type, pred = () => true, timeoutMs = 10000) => new Promise((resolve, reject) => {
    const check = () => {
      const hit = bridge.messages.find((m) => m.msg.type === type && pred(m.msg, m));
      if (hit) { waiters.delete(check); clearTimeout(t); resolve(hit.msg); return true; }
      return false;
    };
    const t = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for a "${type}" message; got: ${bridge.messages.map((m) => m.msg.type).join(',')}`)); }, timeoutMs);
    if (!check()) waiters.add(check);
  });

  /** The only (or last) session. */
  bridge.session = () => [...bridge.sessions.values()].at(-1);

  /** Drops a session's socket without a close frame, like a network blip. */
  bridge.dropSocket = (s = bridge.session()) => { s.ws?.terminate(); };

  bridge.close = async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  };
  return bridge;
}
