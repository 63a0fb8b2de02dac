// callbridge softphone widget: <callbridge-softphone server="wss://…/v1/ws" token-url="/my/token">.
//
// An ES module with no dependencies and no build step. It speaks the bridge's
// browser signaling protocol v1 (docs/WIDGET.md): hello → ready, one
// RTCPeerConnection per session set up right after ready (offer/answer with
// trickle ICE, RFC 8838/8829), so clicking a number only sends `call`.
// Reconnects with `resume` after a socket drop, restarts ICE when the network
// changes (RFC 8445 §2.4) and uploads getStats summaries while a call is up.

const VERSION = '1.0.0';
const PING_INTERVAL_MS = 15000;
const SILENCE_LIMIT_MS = 45000;
const STATS_INTERVAL_MS = 5000;
const RECONNECT_MAX_MS = 10000;
const ENDED_DISPLAY_MS = 4000;
const DTMF_CHARS = '0123456789*#ABCD';

// Words shown to the agent for each error code of the signaling protocol and
// for the failures the widget detects itself.
export const ERROR_TEXT = Object.freeze({
  unauthorized: 'Sign-in to the phone service failed. Reload the page or sign in to the CRM again.',
  bad_request: 'The phone service did not understand the request.',
  invalid_number: 'That phone number is not valid. Check it and try again.',
  caller_id_not_allowed: 'You are not allowed to call from that number. Pick another caller ID.',
  destination_not_allowed: 'Calls to that destination are not allowed for your seat.',
  too_many_calls: 'You already have a call in progress. Hang up before starting another.',
  rate_limited: 'Too many calls in a short time. Wait a moment and try again.',
  no_media: 'The audio connection could not be set up. Check your network or firewall.',
  unknown_call: 'That call has already ended.',
  internal: 'Something went wrong in the phone service. Try again.',
  trunk_unavailable: 'The phone line is down: the carrier cannot be reached. Try again in a few minutes.',
  mic_blocked: 'Microphone access is blocked. Allow the microphone for this site (icon in the address bar), then try again.',
  mic_not_found: 'No microphone found. Plug in a headset and try again.',
  no_network: 'No network connection. The phone reconnects by itself when you are back online.',
  connection_failed: 'Cannot reach the phone service. Retrying…',
  not_connected: 'The phone is not connected yet. Wait a moment and try again.',
  no_call: 'There is no call in progress.',
  bad_metadata: 'The link carries call data that is not valid JSON; it was left out.',
  hold_failed: 'The call could not be put on hold.',
  replaced: 'The phone was opened in another window. Reload this page to use it here.',
  output_device_failed: 'That speaker cannot be used. Pick another one.',
});

const STATE_TEXT = {
  dialing: 'Calling',
  ringing: 'Ringing',
  early_media: 'Ringing',
  answered: 'Connected',
  ended: 'Call ended',
};

const STATUS_TEXT = {
  offline: 'Offline',
  connecting: 'Connecting…',
  ready: 'Ready',
  reconnecting: 'Reconnecting…',
  no_network: 'No network',
  error: 'Not connected',
};

const PAD = [
  ['1', ''], ['2', 'ABC'], ['3', 'DEF'],
  ['4', 'GHI'], ['5', 'JKL'], ['6', 'MNO'],
  ['7', 'PQRS'], ['8', 'TUV'], ['9', 'WXYZ'],
  ['*', ''], ['0', '+'], ['#', ''],
];

/** Human words for an ended call's cause ({sip_code, q850, reason, by}). */
export function causeText(cause) {
  if (!cause) return 'Call ended';
  const code = Number(cause.sip_code) || 0;
  const byCode = {
    486: 'Busy', 600: 'Busy', 480: 'No answer', 408: 'No answer', 487: 'Call cancelled',
    404: 'Number not found', 484: 'Number incomplete', 603: 'Call declined', 403: 'Call not allowed',
    503: 'The phone line is down', 502: 'The phone line is down', 500: 'The phone line failed', 504: 'The phone line timed out',
  };
  if (byCode[code]) return byCode[code];
  if (cause.by === 'remote') return 'The other party hung up';
  if (cause.by === 'agent') return 'You hung up';
  if (cause.reason) return `Call ended: ${cause.reason}`;
  return 'Call ended';
}

const STYLE = `
:host {
  --_bg: var(--callbridge-bg, #ffffff);
  --_fg: var(--callbridge-fg, #1d2330);
  --_muted: var(--callbridge-muted, #5b6475);
  --_border: var(--callbridge-border, #d6dae3);
  --_accent: var(--callbridge-accent, #1f7a4d);
  --_accent-fg: var(--callbridge-accent-fg, #ffffff);
  --_danger: var(--callbridge-danger, #b3261e);
  --_danger-fg: var(--callbridge-danger-fg, #ffffff);
  --_key-bg: var(--callbridge-key-bg, #f2f4f8);
  --_focus: var(--callbridge-focus, #2d6cdf);
  --_radius: var(--callbridge-radius, 10px);
  --_font: var(--callbridge-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  display: inline-block;
  width: var(--callbridge-width, 280px);
  font: 14px/1.4 var(--_font);
  color: var(--_fg);
  contain: content;
}
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
.sp { background: var(--_bg); border: 1px solid var(--_border); border-radius: var(--_radius); padding: 12px; display: grid; gap: 10px; }
header { display: flex; align-items: center; justify-content: space-between; gap: 8px; }
.status { display: inline-flex; align-items: center; gap: 6px; font-weight: 600; }
.dot { width: 10px; height: 10px; border-radius: 50%; background: var(--_muted); }
.sp[data-status="ready"] .dot { background: var(--_accent); }
.sp[data-status="connecting"] .dot, .sp[data-status="reconnecting"] .dot { background: #c98a00; }
.sp[data-status="error"] .dot, .sp[data-status="no_network"] .dot { background: var(--_danger); }
.timer { font-variant-numeric: tabular-nums; color: var(--_muted); }
.callinfo { min-height: 1.4em; color: var(--_muted); }
.sp[data-call="answered"] .callinfo { color: var(--_accent); font-weight: 600; }
.error { display: flex; gap: 8px; align-items: flex-start; background: color-mix(in srgb, var(--_danger) 10%, var(--_bg)); color: var(--_danger); border: 1px solid var(--_danger); border-radius: calc(var(--_radius) / 2); padding: 6px 8px; }
.error[hidden] { display: none; }
.error .msg { flex: 1; }
label { display: grid; gap: 4px; font-size: 12px; color: var(--_muted); }
input, select { font: inherit; color: var(--_fg); background: var(--_bg); border: 1px solid var(--_border); border-radius: calc(var(--_radius) / 2); padding: 6px 8px; width: 100%; }
input.number { font-size: 18px; letter-spacing: 0.5px; }
.from[hidden] { display: none; }
.pad { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px; }
.pad button { background: var(--_key-bg); color: var(--_fg); border: 1px solid var(--_border); border-radius: calc(var(--_radius) / 2); padding: 6px 0; font-size: 18px; line-height: 1.1; display: grid; }
.pad button small { font-size: 9px; letter-spacing: 1px; color: var(--_muted); min-height: 1em; }
.actions { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
.actions button { border-radius: calc(var(--_radius) / 2); border: 1px solid var(--_border); background: var(--_key-bg); color: var(--_fg); padding: 8px; font: inherit; font-weight: 600; }
.actions .call { background: var(--_accent); color: var(--_accent-fg); border-color: var(--_accent); grid-column: 1 / -1; }
.actions .hangup { background: var(--_danger); color: var(--_danger-fg); border-color: var(--_danger); grid-column: 1 / -1; }
.actions [aria-pressed="true"] { background: var(--_fg); color: var(--_bg); }
button { cursor: pointer; }
button:disabled { opacity: 0.45; cursor: not-allowed; }
button[hidden] { display: none; }
:focus-visible { outline: 3px solid var(--_focus); outline-offset: 2px; }
.meter { height: 6px; background: var(--_key-bg); border-radius: 3px; overflow: hidden; }
.meter .bar { height: 100%; width: 0%; background: var(--_accent); transition: width 80ms linear; }
.meterrow { display: grid; grid-template-columns: auto 1fr; gap: 8px; align-items: center; font-size: 12px; color: var(--_muted); }
details summary { cursor: pointer; color: var(--_muted); font-size: 12px; }
details[open] { display: grid; gap: 6px; }
.dtmf:empty { display: none; }
.dtmf { font-variant-numeric: tabular-nums; letter-spacing: 2px; color: var(--_muted); min-height: 1em; font-size: 12px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

const TEMPLATE = `
<style>${STYLE}</style>
<div class="sp" part="container" role="region" aria-label="Softphone" data-status="offline" data-call="idle">
  <header part="header">
    <span class="status" part="status" role="status" aria-live="polite"><span class="dot" aria-hidden="true"></span><span class="status-text">Offline</span></span>
    <span class="timer" part="timer" role="timer" aria-label="Call duration" hidden>00:00</span>
  </header>
  <div class="callinfo" part="callinfo" aria-live="polite"></div>
  <div class="error" part="error" role="alert" hidden><span class="msg"></span><button type="button" class="dismiss" aria-label="Dismiss message">✕</button></div>
  <label>Phone number
    <input class="number" part="number" type="tel" inputmode="tel" autocomplete="off" placeholder="+1 555 010 0001" aria-describedby="dtmf">
  </label>
  <label class="from" hidden>Call from
    <select class="from-select" part="caller-id"></select>
  </label>
  <div class="pad" part="dialpad" role="group" aria-label="Dial pad"></div>
  <div class="dtmf" id="dtmf" aria-live="polite"></div>
  <div class="actions" part="actions">
    <button type="button" class="call" part="call-button" disabled>Call</button>
    <button type="button" class="hangup" part="hangup-button" hidden>Hang up</button>
    <button type="button" class="mute" part="mute-button" aria-pressed="false" disabled>Mute</button>
    <button type="button" class="hold" part="hold-button" aria-pressed="false" disabled>Hold</button>
  </div>
  <div class="meterrow"><span id="miclabel">Mic</span>
    <div class="meter" part="mic-meter" role="meter" aria-labelledby="miclabel" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><div class="bar"></div></div>
  </div>
  <details class="devices" part="devices">
    <summary>Audio devices</summary>
    <label>Microphone <select class="mic-select"></select></label>
    <label>Speaker <select class="spk-select"></select></label>
  </details>
  <audio class="remote" autoplay></audio>
</div>`;

function wsURL(server) {
  const loc = globalThis.location;
  if (!server) {
    return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/v1/ws`;
  }
  const u = new URL(server, loc.href);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  return u.href;
}

function widgetError(code, message, extra) {
  const e = new Error(message || ERROR_TEXT[code] || code);
  e.code = code;
  if (extra) Object.assign(e, extra);
  return e;
}

function rms(analyser, buf) {
  if (!analyser) return 0;
  analyser.getFloatTimeDomainData(buf);
  let s = 0;
  for (let i = 0; i < buf.length; i++) s += buf[i] * buf[i];
  return Math.sqrt(s / buf.length);
}

function candidateString(c) {
  if (!c) return '';
  const addr = c.address || c.ip || '';
  return `${c.candidateType || ''} ${c.protocol || ''} ${addr}:${c.port || ''}`.trim();
}

/**
 * Parses a tel: URI (RFC 3966) into the dialable number; returns '' when the
 * href is not a tel: URI.
 */
export function telNumber(href) {
  if (typeof href !== 'string' || !/^tel:/i.test(href)) return '';
  let s = href.slice(4);
  const semi = s.indexOf(';'); // RFC 3966 §3: parameters (ext=, isub=, phone-context=) follow ';'
  if (semi >= 0) s = s.slice(0, semi);
  try { s = decodeURIComponent(s); } catch { /* keep raw */ }
  return s.trim();
}

export class CallbridgeSoftphone extends HTMLElement {
  static get observedAttributes() { return ['server', 'token-url', 'allowed-origins']; }

  constructor() {
    super();
    this._root = this.attachShadow({ mode: 'open' });
    this._root.innerHTML = TEMPLATE;
    const $ = (s) => this._root.querySelector(s);
    this._el = {
      box: $('.sp'), statusText: $('.status-text'), timer: $('.timer'), info: $('.callinfo'),
      error: $('.error'), errorMsg: $('.error .msg'), dismiss: $('.dismiss'),
      number: $('.number'), from: $('.from'), fromSelect: $('.from-select'), pad: $('.pad'), dtmf: $('.dtmf'),
      call: $('.call'), hangup: $('.hangup'), mute: $('.mute'), hold: $('.hold'),
      meter: $('.meter'), bar: $('.meter .bar'), mic: $('.mic-select'), spk: $('.spk-select'), audio: $('.remote'),
    };
    for (const [d, letters] of PAD) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.digit = d;
      b.setAttribute('aria-label', letters ? `${d} ${letters}` : ({ '*': 'star', '#': 'pound' }[d] || d));
      b.innerHTML = `<span>${d}</span><small>${letters}</small>`;
      this._el.pad.append(b);
    }

    this.status = 'offline';
    this.sessionId = '';
    this.seat = '';
    this.callerIds = [];
    this.iceServers = [];
    this.currentCall = null; // the last call_state of the call in progress, or null

    this._ws = null;
    this._pc = null;
    this._localStream = null;
    this._remoteStream = null;
    this._audioCtx = null;
    this._remoteAnalyser = null;
    this._micAnalyser = null;
    this._buf = new Float32Array(2048);
    this._token = '';
    this._ready = false;
    this._resuming = false;
    this._stopped = true;
    this._reconnectDelay = 0;
    this._reconnectTimer = 0;
    this._pingTimer = 0;
    this._statsTimer = 0;
    this._clockTimer = 0;
    this._meterTimer = 0;
    this._disconnectedTimer = 0;
    this._endedTimer = 0;
    this._lastRx = 0;
    this._authRetried = false;
    this._pendingIceRestart = false;
    this._remoteCandidates = [];
    this._outbox = [];
    this._pendingCalls = new Map(); // request_id → {resolve, reject}
    this._pendingHold = new Map(); // request_id → previous hold state
    this._reqSeq = 0;
    this._muted = false;
    this._held = false;
    this._micDeviceId = '';
    this._subscribers = []; // windows that talk to us over postMessage: {source, origin}
    this._unbinders = [];

    this._onOnline = () => this._networkUp();
    this._onOffline = () => this._networkDown();
    this._onNetChange = () => this.restartIce();
    this._onMessage = (e) => this._onPostMessage(e);
    this._onDeviceChange = () => this._listDevices();

    this._wireUI();
  }

  // ---- lifecycle -------------------------------------------------------

  connectedCallback() {
    this._upgradeProperty('getToken');
    window.addEventListener('online', this._onOnline);
    window.addEventListener('offline', this._onOffline);
    window.addEventListener('message', this._onMessage);
    navigator.connection?.addEventListener?.('change', this._onNetChange);
    navigator.mediaDevices?.addEventListener?.('devicechange', this._onDeviceChange);
    if (!this.hasAttribute('manual')) {
      // Deferred so that a getToken hook assigned right after insertion is used.
      setTimeout(() => { if (this.isConnected && this._stopped) this.connect(); }, 0);
    }
  }

  disconnectedCallback() {
    window.removeEventListener('online', this._onOnline);
    window.removeEventListener('offline', this._onOffline);
    window.removeEventListener('message', this._onMessage);
    navigator.connection?.removeEventListener?.('change', this._onNetChange);
    navigator.mediaDevices?.removeEventListener?.('devicechange', this._onDeviceChange);
    this.disconnect();
    for (const u of this._unbinders.splice(0)) u();
  }

  _upgradeProperty(name) {
    if (Object.prototype.hasOwnProperty.call(this, name)) {
      const v = this[name];
      delete this[name];
      this[name] = v;
    }
  }

  attributeChangedCallback(name, oldV, newV) {
    if (name === 'server' && oldV !== null && oldV !== newV && !this._stopped) {
      this.disconnect();
      this.connect();
    }
  }

  // ---- public API -------------------------------------------------------

  /**
   * Returns a fresh seat token. Replace this property with your own async
   * function to mint tokens another way; the default fetches `token-url` and
   * expects JSON {"token": "..."}. It is called on every (re)connect.
   */
  async getToken() {
    const url = this.getAttribute('token-url');
    if (!url) throw widgetError('unauthorized', 'No token-url attribute and no getToken() hook set.');
    let res;
    try {
      res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
    } catch (err) {
      throw widgetError(navigator.onLine === false ? 'no_network' : 'connection_failed', undefined, { cause: err });
    }
    if (res.status === 401 || res.status === 403) throw widgetError('unauthorized');
    if (!res.ok) throw widgetError('connection_failed', `Token request failed with HTTP ${res.status}.`);
    const body = await res.json().catch(() => null);
    if (!body || typeof body.token !== 'string' || !body.token) {
      throw widgetError('unauthorized', 'The token endpoint did not return {"token": "..."}.');
    }
    return body.token;
  }

  /** Opens the signaling connection (done automatically unless the `manual` attribute is set). */
  async connect() {
    this._stopped = false;
    this._authRetried = false;
    await this._open();
  }

  /** Closes the connection and the media session; a call in progress ends. */
  disconnect() {
    this._stopped = true;
    clearTimeout(this._reconnectTimer);
    this._stopPing();
    if (this.currentCall?.call_id) this._sendNow({ type: 'hangup', call_id: this.currentCall.call_id });
    if (this._ws) {
      const ws = this._ws;
      this._ws = null;
      ws.onclose = null;
      try { ws.close(1000, 'bye'); } catch { /* already closed */ }
    }
    this._abandonSession('disconnected');
    this._setStatus('offline');
  }

  /**
   * Places a call. Resolves with the call_id once the bridge reports the
   * first call state; rejects with an Error carrying `.code` on refusal.
   */
  call(number, { from, metadata } = {}) {
    const to = String(number ?? '').trim();
    if (to.replace(/\D/g, '').length < 3) return this._fail('invalid_number');
    if (!this._ready) return this._fail('not_connected');
    if (this.currentCall) return this._fail('too_many_calls');
    if (!this._pc) this._setupMedia().catch(() => {});
    const request_id = `r${++this._reqSeq}-${Math.random().toString(36).slice(2, 8)}`;
    const msg = { type: 'call', request_id, to };
    const chosen = from || (this.callerIds.length > 1 ? this._el.fromSelect.value : '');
    if (chosen) msg.from = chosen;
    if (metadata !== undefined && metadata !== null) msg.metadata = metadata;
    this._el.number.value = to;
    this._clearError();
    this.currentCall = { call_id: '', request_id, state: 'dialing', to, from: chosen || this.callerIds[0] || '' };
    this._renderCall();
    return new Promise((resolve, reject) => {
      this._pendingCalls.set(request_id, { resolve, reject });
      this._send(msg);
    });
  }

  /** Ends the call in progress (CANCEL before answer, BYE after). */
  hangup() {
    const c = this.currentCall;
    if (!c) return false;
    if (!c.call_id) {
      // The bridge has not named the call yet: hang up as soon as it does.
      c.hangupRequested = true;
      return true;
    }
    this._send({ type: 'hangup', call_id: c.call_id });
    return true;
  }

  /** Sends DTMF digits (0-9 * # A-D) during a call as RFC 4733 events. */
  sendDigits(digits, durationMs) {
    const c = this.currentCall;
    const d = String(digits ?? '').toUpperCase();
    if (!c || !c.call_id) { this._fail('no_call').catch(() => {}); return false; }
    if (!d || d.length > 32 || [...d].some((ch) => !DTMF_CHARS.includes(ch))) {
      this._showError('bad_request', 'DTMF digits must be 0-9, *, #, A-D (at most 32).');
      return false;
    }
    const msg = { type: 'dtmf', call_id: c.call_id, digits: d };
    if (durationMs) msg.duration_ms = durationMs;
    this._send(msg);
    this._el.dtmf.textContent = (this._el.dtmf.textContent + d).slice(-24);
    return true;
  }

  /** Mutes (true) or unmutes (false) the microphone; the far end hears silence. */
  mute(on = true) {
    this._muted = !!on;
    for (const t of this._localStream?.getAudioTracks() ?? []) t.enabled = !this._muted;
    this._el.mute.setAttribute('aria-pressed', String(this._muted));
    this._el.mute.textContent = this._muted ? 'Unmute' : 'Mute';
    return this._muted;
  }

  /** Asks the bridge to hold (true) or resume (false) the call; the bridge may refuse with `error`. */
  hold(on = true) {
    const c = this.currentCall;
    if (!c || !c.call_id) { this._fail('no_call').catch(() => {}); return false; }
    const request_id = `h${++this._reqSeq}`;
    this._pendingHold.set(request_id, this._held);
    this._setHeld(!!on);
    this._send({ type: 'hold', request_id, call_id: c.call_id, hold: !!on });
    return true;
  }

  /** Restarts ICE (a new offer with fresh credentials) without dropping the call. */
  restartIce() {
    this._pendingIceRestart = true;
    this._negotiate();
  }

  /** RMS level (0..1) of the far end's audio as played. */
  remoteLevel() { return rms(this._remoteAnalyser, this._buf); }

  /** RMS level (0..1) of the microphone (after mute). */
  micLevel() { return this._muted ? 0 : rms(this._micAnalyser, this._buf); }

  /** Frequency in Hz of the strongest component of the far end's audio (0 when silent). */
  remoteDominantHz() {
    const a = this._remoteAnalyser;
    if (!a || this.remoteLevel() < 1e-3) return 0;
    const bins = new Float32Array(a.frequencyBinCount);
    a.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return Math.round((best * this._audioCtx.sampleRate) / a.fftSize);
  }

  /** The peer connection of the media session (for diagnostics). */
  get peerConnection() { return this._pc; }

  /**
   * Opt-in click-to-call: clicks on tel: links and [data-callbridge-number]
   * elements under root place a call through this widget; a
   * data-callbridge-metadata attribute (JSON) becomes the call's metadata.
   * Returns a function that removes the binding.
   */
  bindClickToCall(root = document) {
    const unbind = bindClickToCall(root, this);
    this._unbinders.push(unbind);
    return unbind;
  }

  // ---- connection -------------------------------------------------------

  async _open() {
    if (this._stopped || this._opening) return;
    // One socket at a time: a reconnect timer and an `online` event may race.
    if (this._ws && this._ws.readyState <= WebSocket.OPEN) return;
    this._opening = true;
    try { await this._openSocket(); } finally { this._opening = false; }
  }

  async _openSocket() {
    clearTimeout(this._reconnectTimer);
    if (navigator.onLine === false) { this._networkDown(); return; }
    this._setStatus(this.sessionId ? 'reconnecting' : 'connecting');
    try {
      this._token = await this.getToken();
    } catch (err) {
      const code = err?.code || 'connection_failed';
      this._showError(code, err?.code ? err.message : undefined);
      this._emitError(code, err?.message || ERROR_TEXT[code]);
      if (code === 'unauthorized') { this._setStatus('error'); return; }
      this._scheduleReconnect();
      return;
    }
    if (this._stopped) return;
    let ws;
    try {
      ws = new WebSocket(wsURL(this.getAttribute('server')));
    } catch (err) {
      this._showError('connection_failed', `Bad server address: ${err.message}`);
      this._setStatus('error');
      return;
    }
    this._ws = ws;
    this._ready = false;
    ws.onopen = () => {
      this._lastRx = Date.now();
      if (this.sessionId) {
        this._resuming = true;
        this._sendNow({ type: 'resume', session_id: this.sessionId, token: this._token });
      } else {
        this._sendNow({ type: 'hello', token: this._token, client: { name: 'callbridge-softphone', version: VERSION } });
      }
      this._startPing();
    };
    ws.onmessage = (e) => this._onSignal(e.data);
    ws.onclose = (e) => this._onClose(ws, e);
    ws.onerror = () => { /* onclose follows with the details */ };
  }

  _onClose(ws, e) {
    if (ws !== this._ws) return;
    this._ws = null;
    this._ready = false;
    this._stopPing();
    if (this._stopped) return;
    if (e.code === 4409) {
      // Another window resumed this session: leave it to that one.
      this._stopped = true;
      this._abandonSession('opened elsewhere');
      this._showError('replaced');
      this._setStatus('offline');
      return;
    }
    if (e.code === 4401) {
      // Authentication refused or hello too late. A resume that was refused
      // means the session is gone: start a new one. Otherwise try once with a
      // fresh token before giving up.
      if (this._resuming) {
        this._resuming = false;
        this._abandonSession('session lost');
        this._open();
        return;
      }
      if (!this._authRetried) {
        this._authRetried = true;
        this._open();
        return;
      }
      this._showError('unauthorized');
      this._setStatus('error');
      return;
    }
    this._resuming = false;
    if (e.code === 4400) this._abandonSession('protocol error');
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this._stopped) return;
    this._setStatus(navigator.onLine === false ? 'no_network' : 'reconnecting');
    this._reconnectDelay = Math.min(RECONNECT_MAX_MS, this._reconnectDelay ? this._reconnectDelay * 2 : 250);
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(() => this._open(), this._reconnectDelay);
  }

  _networkDown() {
    this._setStatus('no_network');
    this._showError('no_network');
  }

  _networkUp() {
    if (this._el.error.dataset.code === 'no_network') this._clearError();
    if (this._stopped) return;
    if (!this._ws) {
      this._reconnectDelay = 0;
      this._pendingIceRestart = !!this._pc;
      this._open();
    } else {
      if (this._ready) this._setStatus('ready');
      this.restartIce();
    }
  }

  _startPing() {
    this._stopPing();
    this._pingTimer = setInterval(() => {
      if (Date.now() - this._lastRx > SILENCE_LIMIT_MS) {
        // Half-open socket: drop it and reconnect (resume).
        try { this._ws?.close(); } catch { /* ignore */ }
        const ws = this._ws;
        if (ws) this._onClose(ws, { code: 1006 });
        return;
      }
      this._sendNow({ type: 'ping' });
    }, PING_INTERVAL_MS);
  }

  _stopPing() { clearInterval(this._pingTimer); this._pingTimer = 0; }

  _sendNow(msg) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  // Sends once the session is ready; otherwise queues (e.g. during a reconnect).
  _send(msg) {
    if (this._ready && this._sendNow(msg)) return;
    this._outbox.push(msg);
  }

  _flushOutbox() {
    const q = this._outbox.splice(0);
    for (const m of q) this._send(m);
  }

  _onSignal(data) {
    this._lastRx = Date.now();
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (!msg || typeof msg.type !== 'string') return;
    switch (msg.type) {
      case 'ready': this._onReady(msg); break;
      case 'resumed': this._onResumed(msg); break;
      case 'answer': this._onAnswer(msg); break;
      case 'candidate': this._onRemoteCandidate(msg.candidate ?? null); break;
      case 'call_state': this._onCallState(msg); break;
      case 'error': this._onError(msg); break;
      case 'held': this._onHeld(msg); break;
      case 'dtmf': this._onRemoteDigit(msg); break;
      case 'ping': this._sendNow({ type: 'pong' }); break;
      default: break; // pong and unknown types are ignored (protocol: clients ignore unknown ones)
    }
  }

  _onReady(msg) {
    const resumed = this._resuming && msg.session_id === this.sessionId;
    this._resuming = false;
    if (!resumed && this.sessionId) this._abandonSession('session replaced');
    this.sessionId = msg.session_id || '';
    this.seat = msg.seat || '';
    this.callerIds = Array.isArray(msg.caller_ids) ? msg.caller_ids : [];
    this.iceServers = Array.isArray(msg.ice_servers) ? msg.ice_servers : [];
    this._ready = true;
    this._reconnectDelay = 0;
    this._authRetried = false;
    this._renderCallerIds();
    this._setStatus('ready');
    if (this._el.error.dataset.code === 'connection_failed') this._clearError();
    if (!this._pc) {
      this._setupMedia().catch(() => {});
    } else {
      const st = this._pc.iceConnectionState;
      if (this._pendingIceRestart || st === 'disconnected' || st === 'failed') this.restartIce();
    }
    this._flushOutbox();
    this._emit('ready', msg);
  }

  // The bridge re-attached this socket to our session: the peer connection
  // and calls live on. `calls` lists the session's live call ids; messages
  // missed during the gap (e.g. a call_state) follow this one.
  _onResumed(msg) {
    if (!this._resuming || msg.session_id !== this.sessionId) return;
    this._resuming = false;
    this._ready = true;
    this._reconnectDelay = 0;
    this._authRetried = false;
    this._setStatus('ready');
    if (this._el.error.dataset.code === 'connection_failed') this._clearError();
    const st = this._pc?.iceConnectionState;
    if (this._pendingIceRestart || st === 'disconnected' || st === 'failed') this.restartIce();
    this._flushOutbox();
    const c = this.currentCall;
    if (c?.call_id && Array.isArray(msg.calls) && !msg.calls.includes(c.call_id)) {
      // The call ended while we were away; its call_state should follow in the
      // replayed backlog, otherwise end it here.
      setTimeout(() => {
        if (this.currentCall && this.currentCall.call_id === c.call_id) {
          this._finishCall({ type: 'call_state', call_id: c.call_id, request_id: c.request_id, state: 'ended', to: c.to, from: c.from,
            cause: { by: 'bridge', reason: 'ended while reconnecting' } });
        }
      }, 1000);
    }
    this._emit('resumed', msg);
  }

  // ---- media session ------------------------------------------------------

  async _getMic() {
    if (!navigator.mediaDevices?.getUserMedia) throw widgetError('mic_blocked', 'This page cannot use the microphone (it must be served over HTTPS).');
    // audio-processing="off" turns the browser's echo canceller, noise
    // suppressor and gain control off (headsets, measurements, tests).
    const on = this.getAttribute('audio-processing') !== 'off';
    const audio = { echoCancellation: on, noiseSuppression: on, autoGainControl: on };
    if (this._micDeviceId) audio.deviceId = { exact: this._micDeviceId };
    try {
      return await navigator.mediaDevices.getUserMedia({ audio, video: false });
    } catch (err) {
      if (err?.name === 'NotFoundError' || err?.name === 'OverconstrainedError') throw widgetError('mic_not_found', undefined, { cause: err });
      throw widgetError('mic_blocked', undefined, { cause: err });
    }
  }

  async _setupMedia() {
    if (this._pc || this._settingUp) return this._settingUp;
    this._settingUp = (async () => {
      let stream;
      try {
        stream = await this._getMic();
      } catch (err) {
        this._showError(err.code);
        this._emitError(err.code, err.message);
        throw err;
      }
      if (this._stopped || !this._ready) { stream.getTracks().forEach((t) => t.stop()); return; }
      this._localStream = stream;
      this.mute(this._muted);
      const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
      this._pc = pc;
      for (const t of stream.getAudioTracks()) pc.addTrack(t, stream);
      pc.onicecandidate = (e) => {
        if (pc !== this._pc) return;
        if (e.candidate && !e.candidate.candidate) return; // per-m-line end marker; the null below ends the gathering
        this._send({ type: 'candidate', candidate: e.candidate ? e.candidate.toJSON() : null });
      };
      pc.ontrack = (e) => {
        if (pc !== this._pc) return;
        this._remoteStream = e.streams[0] || new MediaStream([e.track]);
        const a = this._el.audio;
        a.srcObject = this._remoteStream;
        a.muted = false; // an unmuted playing element is what makes inbound audioLevel fill in
        a.play().catch(() => {});
        this._attachAnalyser('remote', this._remoteStream);
      };
      pc.oniceconnectionstatechange = () => this._onIceState(pc);
      this._attachAnalyser('mic', stream);
      this._startMeter();
      this._listDevices();
      this._negotiate();
    })();
    try { await this._settingUp; } finally { this._settingUp = null; }
  }

  _onIceState(pc) {
    if (pc !== this._pc) return;
    const st = pc.iceConnectionState;
    clearTimeout(this._disconnectedTimer);
    if (st === 'failed') this.restartIce();
    if (st === 'disconnected') this._disconnectedTimer = setTimeout(() => { if (pc.iceConnectionState === 'disconnected') this.restartIce(); }, 2000);
  }

  // Sends an offer (RFC 8829 §5.2) when none is in flight; an ICE restart
  // requested while one is in flight goes out after its answer.
  async _negotiate() {
    const pc = this._pc;
    if (!pc || !this._ready || this._negotiating) return;
    if (pc.signalingState !== 'stable') return;
    const iceRestart = this._pendingIceRestart && !!pc.remoteDescription;
    if (!iceRestart && pc.localDescription) { this._pendingIceRestart = false; return; }
    this._negotiating = true;
    this._pendingIceRestart = false;
    try {
      const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : {});
      await pc.setLocalDescription(offer);
      this._send({ type: 'offer', sdp: pc.localDescription.sdp });
    } catch (err) {
      this._emitError('internal', `Could not create the media offer: ${err.message}`);
    } finally {
      this._negotiating = false;
    }
  }

  async _onAnswer(msg) {
    const pc = this._pc;
    if (!pc || pc.signalingState !== 'have-local-offer' || typeof msg.sdp !== 'string') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      for (const c of this._remoteCandidates.splice(0)) await this._addRemoteCandidate(c);
    } catch (err) {
      this._emitError('no_media', `The bridge's media answer was refused: ${err.message}`);
      return;
    }
    if (this._pendingIceRestart) this._negotiate();
  }

  _onRemoteCandidate(c) {
    const pc = this._pc;
    if (!pc || !pc.remoteDescription) { this._remoteCandidates.push(c); return; }
    this._addRemoteCandidate(c);
  }

  async _addRemoteCandidate(c) {
    try {
      // null = end of candidates (RFC 8838 §4.6).
      await this._pc.addIceCandidate(c === null ? undefined : c);
    } catch { /* a candidate of an older ICE generation; harmless */ }
  }

  _attachAnalyser(which, stream) {
    try {
      if (!this._audioCtx) this._audioCtx = new AudioContext();
      if (this._audioCtx.state === 'suspended') this._audioCtx.resume().catch(() => {});
      const src = this._audioCtx.createMediaStreamSource(stream);
      const an = this._audioCtx.createAnalyser();
      an.fftSize = 2048;
      an.smoothingTimeConstant = 0.2;
      src.connect(an);
      if (which === 'remote') this._remoteAnalyser = an; else this._micAnalyser = an;
    } catch { /* no WebAudio: levels read 0 */ }
  }

  _startMeter() {
    clearInterval(this._meterTimer);
    this._meterTimer = setInterval(() => {
      const lvl = Math.min(100, Math.round(Math.sqrt(this.micLevel()) * 140));
      this._el.bar.style.width = `${lvl}%`;
      this._el.meter.setAttribute('aria-valuenow', String(lvl));
    }, 100);
  }

  async _listDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    let devs = [];
    try { devs = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
    const fill = (sel, kind, current) => {
      const list = devs.filter((d) => d.kind === kind);
      sel.replaceChildren(...list.map((d, i) => {
        const o = document.createElement('option');
        o.value = d.deviceId;
        o.textContent = d.label || `${kind === 'audioinput' ? 'Microphone' : 'Speaker'} ${i + 1}`;
        o.selected = d.deviceId === current;
        return o;
      }));
      sel.disabled = list.length === 0;
    };
    const track = this._localStream?.getAudioTracks()[0];
    fill(this._el.mic, 'audioinput', this._micDeviceId || track?.getSettings?.().deviceId);
    fill(this._el.spk, 'audiooutput', this._el.audio.sinkId || 'default');
    if (typeof this._el.audio.setSinkId !== 'function') this._el.spk.disabled = true;
  }

  async _chooseMic(deviceId) {
    this._micDeviceId = deviceId;
    if (!this._pc) return;
    let stream;
    try { stream = await this._getMic(); } catch (err) { this._showError(err.code); return; }
    const track = stream.getAudioTracks()[0];
    const sender = this._pc.getSenders().find((s) => s.track?.kind === 'audio' || s.track === null);
    if (sender) await sender.replaceTrack(track); // no renegotiation needed
    this._localStream?.getTracks().forEach((t) => t.stop());
    this._localStream = stream;
    this.mute(this._muted);
    this._attachAnalyser('mic', stream);
  }

  async _chooseSpeaker(deviceId) {
    try { await this._el.audio.setSinkId(deviceId); } catch { this._showError('output_device_failed'); }
  }

  // Ends everything tied to the bridge session: the peer connection and any call.
  _abandonSession(reason) {
    if (this.currentCall) {
      const c = this.currentCall;
      this._finishCall({ type: 'call_state', call_id: c.call_id, request_id: c.request_id, state: 'ended', to: c.to, from: c.from,
        cause: { by: 'bridge', reason: `connection lost (${reason})` } });
    }
    for (const [, p] of this._pendingCalls) p.reject(widgetError('not_connected'));
    this._pendingCalls.clear();
    this._outbox.length = 0;
    this._remoteCandidates.length = 0;
    this.sessionId = '';
    this._ready = false;
    if (this._pc) { this._pc.close(); this._pc = null; }
    this._localStream?.getTracks().forEach((t) => t.stop());
    this._localStream = null;
    this._remoteStream = null;
    this._remoteAnalyser = null;
    this._micAnalyser = null;
    clearInterval(this._meterTimer);
    clearTimeout(this._disconnectedTimer);
    this._el.bar.style.width = '0%';
    this._el.audio.srcObject = null;
  }

  // ---- calls ------------------------------------------------------------

  _onCallState(msg) {
    const c = this.currentCall;
    const pending = this._pendingCalls.get(msg.request_id);
    if (pending) { this._pendingCalls.delete(msg.request_id); pending.resolve(msg.call_id); }
    if (c && (c.request_id === msg.request_id || c.call_id === msg.call_id || !c.call_id)) {
      const hangupRequested = c.hangupRequested;
      this.currentCall = { ...msg };
      if (msg.state === 'answered' && !c.answeredAt) this.currentCall.answeredAt = Date.now();
      else this.currentCall.answeredAt = c.answeredAt;
      if (hangupRequested && msg.state !== 'ended') { this._send({ type: 'hangup', call_id: msg.call_id }); }
    } else if (!c && msg.state !== 'ended') {
      this.currentCall = { ...msg, answeredAt: msg.state === 'answered' ? Date.now() : 0 };
    }
    if (msg.state === 'ended') {
      // Exactly one callended per call, even if the bridge replays the end.
      if (c && (c.request_id === msg.request_id || c.call_id === msg.call_id || !c.call_id)) this._finishCall(msg);
      return;
    }
    this._renderCall();
    this._startStats();
    this._emit('statechange', msg);
  }

  _finishCall(msg) {
    this._emit('statechange', msg);
    this.currentCall = null;
    this._pendingHold.clear();
    this._stopStats();
    this._setHeld(false);
    this._el.dtmf.textContent = '';
    this._renderCall(msg);
    this._emit('callended', { call_id: msg.call_id, cause: msg.cause || null });
  }

  /** The bridge's confirmation of a hold or unhold (extension message `held`). */
  _onHeld(msg) {
    if (!this._pendingHold.delete(msg.request_id)) return;
    const c = this.currentCall;
    // A later request still in flight decides the button; otherwise follow the bridge.
    if (c && c.call_id === msg.call_id && this._pendingHold.size === 0) this._setHeld(!!msg.hold);
  }

  /** A digit the far end sent (extension message `dtmf`: RFC 4733 event or SIP INFO). */
  _onRemoteDigit(msg) {
    if (typeof msg.call_id !== 'string' || typeof msg.digit !== 'string' || !/^[0-9*#A-D]$/.test(msg.digit)) return;
    this._emit('dtmf', { call_id: msg.call_id, digit: msg.digit });
  }

  _onError(msg) {
    const code = msg.code || 'internal';
    const pending = msg.request_id && this._pendingCalls.get(msg.request_id);
    if (pending) {
      this._pendingCalls.delete(msg.request_id);
      pending.reject(widgetError(code, msg.message));
      if (this.currentCall && this.currentCall.request_id === msg.request_id) {
        this.currentCall = null;
        this._renderCall();
      }
    }
    if (msg.request_id && this._pendingHold.has(msg.request_id)) {
      // A refused hold (e.g. a bridge without hold support): put the button back.
      this._setHeld(this._pendingHold.get(msg.request_id));
      this._pendingHold.delete(msg.request_id);
      this._showError('hold_failed');
      this._emitError(code, msg.message || ERROR_TEXT.hold_failed, msg.request_id);
      return;
    }
    if (this._resuming) {
      // The bridge no longer knows our session (session_not_found): start a
      // new session on a new socket.
      this._resuming = false;
      this._abandonSession('session lost');
      const ws = this._ws;
      if (ws) { ws.onclose = null; this._ws = null; try { ws.close(1000, 'new session'); } catch { /* closed */ } }
      this._stopPing();
      this._open();
      return;
    }
    this._showError(code, code in ERROR_TEXT ? undefined : msg.message);
    this._emitError(code, msg.message || ERROR_TEXT[code] || code, msg.request_id);
  }

  _startStats() {
    if (this._statsTimer) return;
    this._statsTimer = setInterval(() => this._uploadStats(), STATS_INTERVAL_MS);
  }

  _stopStats() { clearInterval(this._statsTimer); this._statsTimer = 0; }

  /** Builds the stats summary message the widget uploads every 5 s during a call. */
  async statsSummary() {
    const pc = this._pc;
    const c = this.currentCall;
    if (!pc || !c) return null;
    const report = await pc.getStats();
    const inbound = {}; const outbound = {}; const pair = {};
    let selectedPairId = '';
    const byId = new Map();
    report.forEach((s) => {
      byId.set(s.id, s);
      if (s.type === 'transport' && s.selectedCandidatePairId) selectedPairId = s.selectedCandidatePairId;
    });
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        Object.assign(inbound, { packetsReceived: s.packetsReceived ?? 0, packetsLost: s.packetsLost ?? 0, jitter: s.jitter ?? 0,
          audioLevel: s.audioLevel ?? 0, totalAudioEnergy: s.totalAudioEnergy ?? 0 });
      } else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
        outbound.packetsSent = s.packetsSent ?? 0;
      } else if (s.type === 'media-source' && s.kind === 'audio') {
        outbound.audioLevel = s.audioLevel ?? 0;
      } else if (s.type === 'candidate-pair' && (s.id === selectedPairId || (!selectedPairId && s.nominated && s.state === 'succeeded'))) {
        Object.assign(pair, { local: candidateString(byId.get(s.localCandidateId)), remote: candidateString(byId.get(s.remoteCandidateId)),
          state: s.state, currentRoundTripTime: s.currentRoundTripTime ?? 0 });
      }
    });
    return { type: 'stats', call_id: c.call_id, inbound, outbound, candidate_pair: pair };
  }

  async _uploadStats() {
    try {
      const m = await this.statsSummary();
      if (m && m.call_id) this._sendNow(m);
    } catch { /* stats are best effort */ }
  }

  // ---- UI ---------------------------------------------------------------

  _wireUI() {
    const el = this._el;
    el.call.addEventListener('click', () => this._callFromUI());
    el.hangup.addEventListener('click', () => this.hangup());
    el.mute.addEventListener('click', () => this.mute(!this._muted));
    el.hold.addEventListener('click', () => this.hold(!this._held));
    el.dismiss.addEventListener('click', () => { this._clearError(); el.number.focus(); });
    el.pad.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-digit]');
      if (b) this._key(b.dataset.digit);
    });
    el.number.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); if (!this.currentCall) this._callFromUI(); }
    });
    el.mic.addEventListener('change', () => this._chooseMic(el.mic.value));
    el.spk.addEventListener('change', () => this._chooseSpeaker(el.spk.value));
    // Keyboard: digits go to the number field before a call and become DTMF
    // during one; Escape hangs up.
    this._root.addEventListener('keydown', (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const inField = e.composedPath()[0]?.tagName === 'INPUT' || e.composedPath()[0]?.tagName === 'SELECT';
      if (e.key === 'Escape' && this.currentCall) { e.preventDefault(); this.hangup(); return; }
      const k = e.key.length === 1 ? e.key.toUpperCase() : '';
      if (!k || !DTMF_CHARS.includes(k)) return;
      if (this.currentCall?.call_id) { e.preventDefault(); this.sendDigits(k); return; }
      if (!inField && /[0-9*#]/.test(k)) { e.preventDefault(); this._key(k); }
    });
    this._root.addEventListener('pointerdown', () => this._audioCtx?.resume?.().catch(() => {}));
  }

  _key(d) {
    if (this.currentCall?.call_id) { this.sendDigits(d); return; }
    const n = this._el.number;
    n.value += d;
    n.dispatchEvent(new Event('input', { bubbles: true }));
  }

  _callFromUI() {
    this.call(this._el.number.value).catch(() => { /* shown in the UI already */ });
  }

  _renderCallerIds() {
    const sel = this._el.fromSelect;
    const prev = sel.value;
    sel.replaceChildren(...this.callerIds.map((id) => {
      const o = document.createElement('option');
      o.value = id; o.textContent = id; o.selected = id === prev;
      return o;
    }));
    this._el.from.hidden = this.callerIds.length < 2;
  }

  _renderCall(ended) {
    const el = this._el;
    const c = this.currentCall;
    const focused = this._root.activeElement; // before Call/Hang up swap and drop focus
    const state = c ? c.state : (ended ? 'ended' : 'idle');
    el.box.dataset.call = state;
    const active = !!c;
    el.call.hidden = active;
    el.hangup.hidden = !active;
    el.call.disabled = !this._ready;
    el.mute.disabled = !active;
    el.hold.disabled = !(c && c.state === 'answered');
    clearTimeout(this._endedTimer);
    if (c) {
      const who = c.to || el.number.value;
      el.info.textContent = `${STATE_TEXT[c.state] || c.state} ${who}${this._held ? ' (on hold)' : ''}`;
      if (c.state === 'answered') this._startClock(); else this._stopClock(false);
    } else if (ended) {
      this._stopClock(true);
      el.info.textContent = causeText(ended.cause);
      this._endedTimer = setTimeout(() => {
        if (!this.currentCall) { el.info.textContent = ''; el.box.dataset.call = 'idle'; el.timer.hidden = true; }
      }, ENDED_DISPLAY_MS);
    } else {
      this._stopClock(false);
      el.info.textContent = '';
      el.timer.hidden = true;
    }
    // Keep keyboard focus on a visible control when Call and Hang up swap.
    if (active && focused === el.call) el.hangup.focus();
    if (!active && focused === el.hangup) el.call.focus();
  }

  _startClock() {
    const el = this._el;
    el.timer.hidden = false;
    const tick = () => {
      const start = this.currentCall?.answeredAt;
      if (!start) return;
      const s = Math.floor((Date.now() - start) / 1000);
      el.timer.textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    };
    tick();
    if (!this._clockTimer) this._clockTimer = setInterval(tick, 1000);
  }

  _stopClock(keep) {
    clearInterval(this._clockTimer);
    this._clockTimer = 0;
    if (!keep) { this._el.timer.hidden = true; this._el.timer.textContent = '00:00'; }
  }

  _setHeld(on) {
    this._held = on;
    this._el.hold.setAttribute('aria-pressed', String(on));
    this._el.hold.textContent = on ? 'Resume' : 'Hold';
    if (this.currentCall) this._renderCall();
  }

  _setStatus(s) {
    this.status = s;
    this._el.box.dataset.status = s;
    this._el.statusText.textContent = s === 'ready' && this.seat ? `Ready · ${this.seat}` : STATUS_TEXT[s] || s;
    this._el.call.disabled = !this._ready;
    this._emit('connectionchange', { status: s });
  }

  _showError(code, message) {
    const el = this._el;
    el.error.hidden = false;
    el.error.dataset.code = code;
    el.errorMsg.textContent = message || ERROR_TEXT[code] || `Error: ${code}`;
  }

  _clearError() {
    this._el.error.hidden = true;
    delete this._el.error.dataset.code;
    this._el.errorMsg.textContent = '';
  }

  _fail(code, message) {
    this._showError(code, message);
    this._emitError(code, message || ERROR_TEXT[code]);
    return Promise.reject(widgetError(code, message));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
    this._broadcast(type, detail);
  }

  _emitError(code, message, request_id) {
    const detail = { code, message: message || ERROR_TEXT[code] || code };
    if (request_id) detail.request_id = request_id;
    this._emit('error', detail);
  }

  // ---- iframe embedding: postMessage API ----------------------------------

  _allowedOrigins() {
    return (this.getAttribute('allowed-origins') || '').split(/[\s,]+/).filter(Boolean);
  }

  async _onPostMessage(e) {
    const m = e.data;
    if (!m || typeof m !== 'object' || m.callbridge !== 1 || typeof m.method !== 'string') return;
    if (!this._allowedOrigins().includes(e.origin) || !e.source) return; // origin check: exact match only
    if (!this._subscribers.some((s) => s.source === e.source)) this._subscribers.push({ source: e.source, origin: e.origin });
    const reply = (body) => e.source.postMessage({ callbridge: 1, id: m.id, ...body }, e.origin);
    const args = Array.isArray(m.args) ? m.args : [];
    const methods = {
      call: () => this.call(args[0], args[1] || {}),
      hangup: () => this.hangup(),
      sendDigits: () => this.sendDigits(args[0], args[1]),
      mute: () => this.mute(args[0] !== false),
      hold: () => this.hold(args[0] !== false),
      subscribe: () => true,
      state: () => ({ status: this.status, call: this.currentCall, caller_ids: this.callerIds, seat: this.seat }),
    };
    const fn = methods[m.method];
    if (!fn) { reply({ ok: false, error: { code: 'bad_request', message: `unknown method ${m.method}` } }); return; }
    try {
      reply({ ok: true, result: await fn() });
    } catch (err) {
      reply({ ok: false, error: { code: err.code || 'internal', message: err.message } });
    }
  }

  _broadcast(event, detail) {
    for (const s of this._subscribers) {
      try { s.source.postMessage({ callbridge: 1, event, detail: JSON.parse(JSON.stringify(detail ?? null)) }, s.origin); } catch { /* closed window */ }
    }
  }
}

/**
 * Binds click-to-call under root (a Document, Element or ShadowRoot) to the
 * given softphone element: tel: links and [data-callbridge-number] elements.
 * Returns a function that removes the binding.
 */
export function bindClickToCall(root = document, softphone = document.querySelector('callbridge-softphone')) {
  if (!softphone) throw new Error('bindClickToCall: no <callbridge-softphone> element');
  const target = (e) => {
    const path = e.composedPath ? e.composedPath() : [e.target];
    for (const n of path) {
      if (!(n instanceof Element)) continue;
      if (n.hasAttribute('data-callbridge-number')) return { el: n, number: n.getAttribute('data-callbridge-number') };
      if (n.tagName === 'A' && /^tel:/i.test(n.getAttribute('href') || '')) return { el: n, number: telNumber(n.getAttribute('href')) };
      if (n === root) break;
    }
    return null;
  };
  const place = (hit) => {
    const opts = {};
    const raw = hit.el.getAttribute('data-callbridge-metadata');
    if (raw) {
      try { opts.metadata = JSON.parse(raw); } catch {
        softphone._showError('bad_metadata');
        softphone._emitError('bad_metadata', ERROR_TEXT.bad_metadata);
      }
    }
    const from = hit.el.getAttribute('data-callbridge-from');
    if (from) opts.from = from;
    softphone.call(hit.number, opts).catch(() => { /* shown in the widget */ });
  };
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const hit = target(e);
    if (!hit) return;
    e.preventDefault();
    place(hit);
  };
  const onKey = (e) => {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    const hit = target(e);
    if (!hit || hit.el.tagName === 'A' || hit.el.tagName === 'BUTTON') return; // native activation fires click
    e.preventDefault();
    place(hit);
  };
  // Make non-link number elements reachable and announced as actions.
  const decorate = () => {
    const scope = root.querySelectorAll ? root : document;
    for (const n of scope.querySelectorAll('[data-callbridge-number]')) {
      if (n.tagName !== 'A' && n.tagName !== 'BUTTON') {
        if (!n.hasAttribute('tabindex')) n.setAttribute('tabindex', '0');
        if (!n.hasAttribute('role')) n.setAttribute('role', 'button');
      }
      if (!n.hasAttribute('aria-label') && !n.hasAttribute('title')) n.setAttribute('title', `Call ${n.getAttribute('data-callbridge-number')}`);
    }
  };
  decorate();
  root.addEventListener('click', onClick);
  root.addEventListener('keydown', onKey);
  return () => { root.removeEventListener('click', onClick); root.removeEventListener('keydown', onKey); };
}

// ---- calls that outlive the page ------------------------------------------
//
// A reloaded page, a navigation to another page with the widget, a second
// tab of the same CRM: the call goes on (docs/SIGNALING.md, "Calls that
// outlive the page").
//
// - sessionStorage (per tab, never localStorage) keeps the session id, the
//   single-use resume credential, the call ids, mute and hold. On load the
//   widget resumes the session with `new_peer: true`, makes a fresh peer
//   connection and shows the call as it was: timer from `answered_at`, mute,
//   hold. On pagehide it says `leaving`, so the bridge plays comfort noise to
//   the far end and waits webrtc.page_grace for the page to come back.
// - Tabs of one origin talk over a BroadcastChannel: the tab whose session
//   owns the call announces it; the others show it and can hang up, hold,
//   mute, send digits, or "move the call here" (`take`). When the owning
//   tab closes, the others offer to move the call.
// - A network change: "reconnecting" while ICE restarts; the timer runs on.

const RESUME_KEY = 'callbridge-softphone';
const TAB_CHANNEL = 'callbridge-softphone';

const OTHER_TAB_TEMPLATE = `
<style>
.othertab { border: 1px solid var(--_muted); border-radius: 6px; padding: 6px 8px; display: grid; gap: 6px; font-size: 12px; }
.othertab[hidden] { display: none; }
.othertab .row { display: flex; gap: 6px; flex-wrap: wrap; }
</style>
<div class="othertab" part="other-tab-call" hidden>
  <span class="othertab-text" aria-live="polite"></span>
  <div class="row">
    <button type="button" class="othertab-take" part="move-here-button">Move the call here</button>
    <button type="button" class="othertab-hangup" part="other-tab-hangup-button">Hang up</button>
    <button type="button" class="othertab-mute" part="other-tab-mute-button">Mute</button>
    <button type="button" class="othertab-hold" part="other-tab-hold-button">Hold</button>
  </div>
</div>`;

// answered_at is RFC 3339 with up to nanoseconds; Date.parse wants at most
// milliseconds.
function parseTime(s) {
  const t = Date.parse(String(s || '').replace(/(\.\d{3})\d+/, '$1'));
  return Number.isFinite(t) ? t : 0;
}

function storage() {
  try { return globalThis.sessionStorage; } catch { return null; }
}

const proto = CallbridgeSoftphone.prototype;
const orig = {
  connect: proto.connect,
  _sendNow: proto._sendNow,
  _onSignal: proto._onSignal,
  _onReady: proto._onReady,
  _onResumed: proto._onResumed,
  _onCallState: proto._onCallState,
  _finishCall: proto._finishCall,
  _abandonSession: proto._abandonSession,
  _onIceState: proto._onIceState,
  _setHeld: proto._setHeld,
  mute: proto.mute,
  connectedCallback: proto.connectedCallback,
  disconnectedCallback: proto.disconnectedCallback,
};

Object.assign(proto, {
  _resumeKey() { return `${RESUME_KEY}:${this.getAttribute('server') || ''}`; },

  // What a reloaded page needs to take its calls back.
  _saveResume() {
    const s = storage();
    if (!s) return;
    if (!this.sessionId || !this._resumeToken) { s.removeItem(this._resumeKey()); return; }
    const c = this.currentCall;
    s.setItem(this._resumeKey(), JSON.stringify({
      session_id: this.sessionId, resume_token: this._resumeToken,
      calls: c?.call_id ? [c.call_id] : [], muted: !!this._muted, held: !!this._held,
    }));
  },

  _loadResume() {
    try { return JSON.parse(storage()?.getItem(this._resumeKey()) || 'null'); } catch { return null; }
  },

  async connect() {
    if (!this.sessionId) {
      const saved = this._loadResume();
      if (saved?.session_id && saved?.resume_token) {
        // A new page of a live session: resume it with a new peer connection.
        this.sessionId = saved.session_id;
        this._resumeToken = saved.resume_token;
        this._muted = !!saved.muted;
        this._restoring = saved;
      }
    }
    return orig.connect.call(this);
  },

  _sendNow(msg) {
    if (msg?.type === 'resume') {
      msg = { ...msg, resume_token: this._resumeToken || '' };
      if (!this._pc) msg.new_peer = true;
    }
    return orig._sendNow.call(this, msg);
  },

  _onSignal(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { msg = null; }
    if (msg?.type === 'resume_token' && typeof msg.resume_token === 'string') {
      this._resumeToken = msg.resume_token;
      this._saveResume();
    } else if (msg?.type === 'call_moved' && this.currentCall?.call_id === msg.call_id) {
      // Another tab took the call ("move the call here"); it now shows it.
      this._lastRx = Date.now();
      this.currentCall = null;
      this._stopStats();
      this._setHeld(false);
      this._renderCall();
      this._saveResume();
      this._emit('callmoved', { call_id: msg.call_id });
      this._tabPost({ kind: 'hello' });
      return;
    }
    orig._onSignal.call(this, data);
  },

  _onReady(msg) {
    if (typeof msg.resume_token === 'string') this._resumeToken = msg.resume_token;
    this._restoring = null;
    orig._onReady.call(this, msg);
    this._saveResume();
    this._tabPost({ kind: 'hello' });
  },

  _onResumed(msg) {
    if (typeof msg.resume_token === 'string') this._resumeToken = msg.resume_token;
    const restoring = this._restoring;
    this._restoring = null;
    orig._onResumed.call(this, msg);
    if (restoring && !this._pc) {
      // A new page: its own peer connection; the bridge moves the calls to it.
      this._setupMedia().catch(() => {});
      const cs = (Array.isArray(msg.call_states) ? msg.call_states : []).find((s) => s.state !== 'ended');
      if (cs) {
        this.currentCall = { ...cs, answeredAt: parseTime(cs.answered_at) || (cs.state === 'answered' ? Date.now() : 0) };
        orig._setHeld.call(this, !!cs.hold);
        orig.mute.call(this, !!restoring.muted);
        this._renderCall();
        this._startStats();
        this._emit('statechange', { type: 'call_state', ...cs });
      }
    }
    this._saveResume();
    this._tabAnnounce();
  },

  _onCallState(msg) {
    const moved = !this.currentCall && msg.state !== 'ended';
    orig._onCallState.call(this, msg);
    const c = this.currentCall;
    if (c && c.call_id === msg.call_id) {
      if (msg.answered_at) c.answeredAt = parseTime(msg.answered_at) || c.answeredAt;
      if (moved) { this._tabCall = null; this._renderOtherTab(); orig._setHeld.call(this, !!msg.hold); }
    }
    this._saveResume();
    this._tabAnnounce();
  },

  _finishCall(msg) {
    orig._finishCall.call(this, msg);
    this._saveResume();
    this._tabPost({ kind: 'ended', call_id: msg.call_id });
  },

  _abandonSession(reason) {
    orig._abandonSession.call(this, reason);
    this._resumeToken = '';
    storage()?.removeItem(this._resumeKey());
  },

  _setHeld(on) {
    orig._setHeld.call(this, on);
    this._saveResume();
    this._tabAnnounce();
  },

  mute(on = true) {
    const r = orig.mute.call(this, on);
    this._saveResume();
    this._tabAnnounce();
    return r;
  },

  // A network change: say "reconnecting" while ICE restarts; the call and
  // its timer go on.
  _onIceState(pc) {
    orig._onIceState.call(this, pc);
    if (pc !== this._pc) return;
    const st = pc.iceConnectionState;
    if ((st === 'disconnected' || st === 'failed') && this.currentCall) this._setStatus('reconnecting');
    if ((st === 'connected' || st === 'completed') && this._ready && this.status === 'reconnecting') this._setStatus('ready');
  },

  // ---- tabs ----

  _tabOpen() {
    if (this._tab || typeof BroadcastChannel !== 'function') return;
    this._tab = new BroadcastChannel(TAB_CHANNEL);
    this._tab.onmessage = (e) => this._onTab(e.data || {});
    this._tabCall = null; // {call, muted, held, gone} of another tab
    const box = document.createElement('div');
    box.innerHTML = OTHER_TAB_TEMPLATE;
    this._el.box.insertBefore(box, this._el.box.querySelector('.actions'));
    const $ = (s) => box.querySelector(s);
    this._el.other = { box: $('.othertab'), text: $('.othertab-text'), take: $('.othertab-take'), hangup: $('.othertab-hangup'), mute: $('.othertab-mute'), hold: $('.othertab-hold') };
    const o = this._el.other;
    o.take.addEventListener('click', () => this.moveCallHere());
    o.hangup.addEventListener('click', () => { const t = this._tabCall; if (t) this._send({ type: 'hangup', call_id: t.call.call_id }); });
    o.mute.addEventListener('click', () => { const t = this._tabCall; if (t) this._tabPost({ kind: 'cmd', call_id: t.call.call_id, cmd: 'mute', on: !t.muted }); });
    o.hold.addEventListener('click', () => { const t = this._tabCall; if (t) this._tabPost({ kind: 'cmd', call_id: t.call.call_id, cmd: 'hold', on: !t.held }); });
    this._tabPost({ kind: 'hello' });
  },

  _tabClose() {
    this._tab?.close();
    this._tab = null;
  },

  _tabPost(m) {
    try { this._tab?.postMessage({ ...m, session_id: this.sessionId, server: this.getAttribute('server') || '' }); } catch { /* closed */ }
  },

  // Tells the other tabs about the call this tab owns.
  _tabAnnounce() {
    const c = this.currentCall;
    if (!c?.call_id || c.state === 'ended') return;
    const { answeredAt, hangupRequested, ...call } = c;
    this._tabPost({ kind: 'call', call: { ...call, answered_at: answeredAt ? new Date(answeredAt).toISOString() : undefined }, muted: !!this._muted, held: !!this._held });
  },

  _onTab(m) {
    if ((m.server || '') !== (this.getAttribute('server') || '') || (m.session_id && m.session_id === this.sessionId)) return;
    const mine = this.currentCall?.call_id;
    switch (m.kind) {
      case 'hello': this._tabAnnounce(); break;
      case 'call':
        if (m.call?.call_id === mine) return;
        this._tabCall = { call: m.call, muted: !!m.muted, held: !!m.held, gone: false };
        this._renderOtherTab();
        break;
      case 'leaving':
        if (this._tabCall && this._tabCall.call.call_id === m.call_id) { this._tabCall.gone = true; this._renderOtherTab(); }
        break;
      case 'ended':
        if (this._tabCall?.call.call_id === m.call_id) { this._tabCall = null; this._renderOtherTab(); }
        break;
      case 'cmd':
        if (m.call_id !== mine) return;
        if (m.cmd === 'mute') this.mute(!!m.on);
        if (m.cmd === 'hold') this.hold(!!m.on);
        break;
      default: break;
    }
  },

  _renderOtherTab() {
    const o = this._el.other;
    if (!o) return;
    const t = this._tabCall;
    o.box.hidden = !t;
    if (!t) return;
    const state = STATE_TEXT[t.call.state] || t.call.state;
    o.text.textContent = t.gone
      ? `The tab with the call to ${t.call.to} closed. Move the call here to keep talking.`
      : `${state} ${t.call.to} in another tab${t.held ? ' (on hold)' : ''}${t.muted ? ' (muted)' : ''}`;
    o.mute.textContent = t.muted ? 'Unmute' : 'Mute';
    o.hold.textContent = t.held ? 'Resume' : 'Hold';
    o.mute.disabled = o.hold.disabled = t.gone;
    o.take.disabled = !!this.currentCall;
  },

  /** Moves the call shown from another tab to this one: its audio comes here. */
  moveCallHere() {
    const t = this._tabCall;
    if (!t || this.currentCall) return false;
    this._send({ type: 'take', call_id: t.call.call_id });
    return true;
  },

  _onPageHide() {
    // The bridge keeps the calls for webrtc.page_grace with comfort noise to
    // the far end; this tab (reloaded) or another (moved) takes them back.
    this._saveResume();
    if (this.currentCall?.call_id) this._tabPost({ kind: 'leaving', call_id: this.currentCall.call_id });
    this._sendNow({ type: 'leaving' });
  },

  connectedCallback() {
    this._tabOpen();
    this._onPageHideBound ??= () => this._onPageHide();
    window.addEventListener('pagehide', this._onPageHideBound);
    orig.connectedCallback.call(this);
  },

  disconnectedCallback() {
    window.removeEventListener('pagehide', this._onPageHideBound);
    this._tabClose();
    orig.disconnectedCallback.call(this);
  },
});

if (!customElements.get('callbridge-softphone')) customElements.define('callbridge-softphone', CallbridgeSoftphone);
