// <callbridge-softphone>: the custom element that ties the pieces together.
// It speaks the bridge's browser signaling protocol v1 (protocol.js): hello
// → ready, one RTCPeerConnection per session set up right after ready
// (offer/answer with trickle ICE, RFC 8838/8829), so clicking a number only
// sends `call`. Reconnects with `resume` after a socket drop, restarts ICE
// when the network changes (RFC 8445 §2.4) and uploads getStats summaries
// (stats.js) while a call is up. An `incoming` call rings (ringtone.js) with
// an Accept / Decline panel until it is answered here or elsewhere,
// declined, or the caller hangs up. Its words come from strings.js, its look
// from ui.js, click-to-call from clicktocall.js.

import { bindClickToCall } from './clicktocall.js';
import { createAnalyser, dominantHz, fillDevices, getMic, rms } from './media.js';
import {
  DTMF_CHARS, PING_INTERVAL_MS, RECONNECT_MAX_MS, SILENCE_LIMIT_MS, VERSION, refusalReason, widgetError, wsURL,
} from './protocol.js';
import { STATS_INTERVAL_MS, summarizeStats } from './stats.js';
import { causeKey, isRTL, pickLanguage, translator } from './strings.js';
import { Ringtone } from './ringtone.js';
import { applyStrings, buildUI, clock } from './ui.js';

const ENDED_DISPLAY_MS = 4000;

export class CallbridgeSoftphone extends HTMLElement {
  static get observedAttributes() { return ['server', 'token-url', 'allowed-origins', 'lang', 'placeholder', 'click-to-call', 'ring-device']; }

  /** The widget's version (the npm package's and the bridge release's). */
  static get version() { return VERSION; }

  constructor() {
    super();
    this._root = this.attachShadow({ mode: 'open' });
    this._el = buildUI(this._root);
    this._lang = 'en';
    this.t = translator('en');

    this.status = 'offline';
    this.sessionId = '';
    this.seat = '';
    this.callerIds = [];
    this.iceServers = [];
    this.currentCall = null; // the last call_state of the call in progress, or null
    this.incomingCall = null; // the inbound call ringing this session and not yet answered, or null

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
    this._pageBinding = null; // unbinds the click-to-call attribute's binding
    this._error = null; // {code, message, vars} shown, re-rendered on a language change
    this._ringtone = new Ringtone(this._el.ringAudio);
    this._notification = null; // the desktop notification of the ringing call

    this._onOnline = () => this._networkUp();
    this._onOffline = () => this._networkDown();
    this._onNetChange = () => this.restartIce();
    this._onMessage = (e) => this._onPostMessage(e);
    this._onDeviceChange = () => this._listDevices();
    this._onPageKey = (e) => this._pageShortcut(e);

    this._applyLanguage();
    this._wireUI();
  }

  // ---- lifecycle -------------------------------------------------------

  connectedCallback() {
    this._upgradeProperty('getToken');
    this._applyLanguage();
    window.addEventListener('online', this._onOnline);
    window.addEventListener('offline', this._onOffline);
    window.addEventListener('message', this._onMessage);
    window.addEventListener('keydown', this._onPageKey);
    navigator.connection?.addEventListener?.('change', this._onNetChange);
    navigator.mediaDevices?.addEventListener?.('devicechange', this._onDeviceChange);
    this._bindPage();
    if (!globalThis.isSecureContext) {
      // No microphone outside a secure context (W3C Secure Contexts §3):
      // say so instead of connecting to a phone that cannot call.
      this._stopped = true;
      this._setStatus('insecure');
      this._report('insecure_context');
      return;
    }
    if (!this.hasAttribute('manual')) {
      // Deferred so that a getToken hook assigned right after insertion is used.
      setTimeout(() => { if (this.isConnected && this._stopped) this.connect(); }, 0);
    }
  }

  disconnectedCallback() {
    window.removeEventListener('online', this._onOnline);
    window.removeEventListener('offline', this._onOffline);
    window.removeEventListener('message', this._onMessage);
    window.removeEventListener('keydown', this._onPageKey);
    navigator.connection?.removeEventListener?.('change', this._onNetChange);
    navigator.mediaDevices?.removeEventListener?.('devicechange', this._onDeviceChange);
    this.disconnect();
    this._pageBinding?.();
    this._pageBinding = null;
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
    if (name === 'lang' || name === 'placeholder') this._applyLanguage();
    if (name === 'click-to-call' && this.isConnected) this._bindPage();
    if (name === 'ring-device') this.setRingDevice(newV || '').catch(() => {});
  }

  // The click-to-call attribute: every tel: link and [data-callbridge-number]
  // element of the page dials through this widget.
  _bindPage() {
    this._pageBinding?.();
    this._pageBinding = this.hasAttribute('click-to-call') ? bindClickToCall(this.ownerDocument, this) : null;
  }

  // ---- language --------------------------------------------------------

  /** The language the widget speaks: its lang attribute, the page's, the browser's; 'en' when not shipped. */
  get language() { return this._lang; }

  _applyLanguage() {
    const tag = this.closest?.('[lang]')?.getAttribute('lang') || globalThis.document?.documentElement?.lang || globalThis.navigator?.language || 'en';
    this._lang = pickLanguage(tag);
    this.t = translator(this._lang);
    const el = this._el;
    // An RTL page mirrors the layout by itself; a lang attribute of an RTL
    // language on the element alone does too.
    if (isRTL(tag) && !this.hasAttribute('dir')) el.box.setAttribute('dir', 'rtl'); else el.box.removeAttribute('dir');
    el.box.setAttribute('lang', this._lang);
    applyStrings(this._root, el, this.t, this.getAttribute('placeholder') ?? undefined);
    el.mute.textContent = this.t(this._muted ? 'ui.unmute' : 'ui.mute');
    el.hold.textContent = this.t(this._held ? 'ui.resume' : 'ui.hold');
    this._renderStatus();
    if (this._error) this._showError(this._error.code, this._error.message, this._error.vars);
    if (this.currentCall) this._renderCall();
    if (this.incomingCall) this._renderIncoming();
  }

  // ---- public API -------------------------------------------------------

  /**
   * Returns a fresh seat token. Replace this property with your own async
   * function to mint tokens another way; the default fetches `token-url` and
   * expects JSON {"token": "..."}. It is called on every (re)connect.
   */
  async getToken() {
    const url = this.getAttribute('token-url');
    if (!url) throw widgetError('unauthorized', this.t('error.no_token_url'));
    let res;
    try {
      res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
    } catch (err) {
      throw widgetError(navigator.onLine === false ? 'no_network' : 'connection_failed', undefined, { cause: err });
    }
    if (res.status === 401 || res.status === 403) throw widgetError('unauthorized');
    if (!res.ok) throw widgetError('connection_failed', this.t('error.token_http', { status: res.status }));
    const body = await res.json().catch(() => null);
    if (!body || typeof body.token !== 'string' || !body.token) {
      throw widgetError('unauthorized', this.t('error.token_body'));
    }
    return body.token;
  }

  /** Opens the signaling connection (done automatically unless the `manual` attribute is set). */
  async connect() {
    if (!globalThis.isSecureContext) { this._report('insecure_context'); this._setStatus('insecure'); return; }
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
    if (this.status !== 'insecure') this._setStatus('offline');
  }

  /**
   * Places a call. Resolves with the call_id once the bridge reports the
   * first call state; rejects with an Error carrying `.code` on refusal.
   */
  call(number, { from, metadata } = {}) {
    const to = String(number ?? '').trim();
    if (this.status === 'insecure') return this._fail('insecure_context');
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

  /**
   * Answers the ringing inbound call on this session. Returns false when
   * nothing rings. The call becomes currentCall (state `answered` follows).
   */
  accept() {
    const inc = this.incomingCall;
    if (!inc || this.currentCall) return false;
    this._stopRinging();
    this.incomingCall = null;
    this._renderIncoming();
    if (!this._pc) this._setupMedia().catch(() => {});
    this.currentCall = {
      call_id: inc.call_id, request_id: '', state: 'ringing', direction: 'inbound',
      to: inc.to, from: inc.from, display_name: inc.display_name, answeredAt: 0,
    };
    this._clearError();
    this._renderCall();
    this._send({ type: 'accept', call_id: inc.call_id });
    this._emit('accepted', { call_id: inc.call_id });
    return true;
  }

  /**
   * Declines the ringing inbound call for this session (reason 'decline' or
   * 'busy'); it rings on in the seat's other sessions. Returns false when
   * nothing rings.
   */
  reject(reason = 'decline') {
    const inc = this.incomingCall;
    if (!inc) return false;
    const msg = { type: 'reject', call_id: inc.call_id };
    if (reason === 'busy' || reason === 'decline') msg.reason = reason;
    this._send(msg);
    this._endIncoming({ type: 'call_state', call_id: inc.call_id, state: 'ended', direction: 'inbound', cause: { by: 'agent', reason: 'declined' } });
    return true;
  }

  /** Whether the ringtone is playing. */
  get ringing() { return this._ringtone.playing; }

  /** The output device the ringtone plays on ('' for the default). */
  get ringDevice() { return this._ringtone.sinkId; }

  /** Picks the output device of the ringtone (a deviceId from enumerateDevices; '' for the default). */
  async setRingDevice(deviceId) {
    try {
      await this._ringtone.setSinkId(deviceId);
    } catch (err) {
      this._showError('output_device_failed');
      throw widgetError('output_device_failed', undefined, { cause: err });
    }
  }

  /**
   * Asks for permission to show a desktop notification when a call rings
   * while the page is in the background. Call it from a user gesture; the
   * `notifications` attribute must be present too. Resolves with the
   * permission ('granted', 'denied', 'default' or 'unsupported').
   */
  async enableNotifications() {
    if (typeof Notification === 'undefined') return 'unsupported';
    this.setAttribute('notifications', '');
    if (Notification.permission === 'granted') return 'granted';
    try { return await Notification.requestPermission(); } catch { return Notification.permission; }
  }

  /** Ends the call in progress (CANCEL before answer, BYE after); declines a ringing inbound call. */
  hangup() {
    const c = this.currentCall;
    if (!c && this.incomingCall) return this.reject();
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
      this._showError('bad_request', this.t('error.bad_dtmf'));
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
    this._el.mute.textContent = this.t(this._muted ? 'ui.unmute' : 'ui.mute');
    if (this._statsTimer) this._uploadStats(); // the bridge learns of the mute at once
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
    return dominantHz(a, this._audioCtx.sampleRate);
  }

  /** The peer connection of the media session (for diagnostics). */
  get peerConnection() { return this._pc; }

  /**
   * Opt-in click-to-call: clicks on tel: links and [data-callbridge-number]
   * elements under root place a call through this widget; a
   * data-callbridge-metadata attribute (JSON) becomes the call's metadata.
   * Returns a function that removes the binding. The `click-to-call`
   * attribute does the same for the whole page.
   */
  bindClickToCall(root = document) {
    const unbind = bindClickToCall(root, this);
    this._unbinders.push(unbind);
    return unbind;
  }

  /** Builds the stats summary message the widget uploads every 5 s during a call. */
  async statsSummary() {
    const pc = this._pc;
    const c = this.currentCall;
    if (!pc || !c) return null;
    return summarizeStats(await pc.getStats(), c.call_id, this._muted);
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
      this._report(code, err?.code && !err.defaultMessage ? err.message : undefined);
      if (code === 'unauthorized') { this._setStatus('error'); return; }
      this._scheduleReconnect();
      return;
    }
    if (this._stopped) return;
    let ws;
    try {
      ws = new WebSocket(wsURL(this.getAttribute('server')));
    } catch (err) {
      this._showError('connection_failed', this.t('error.bad_server', { detail: err.message }));
      this._setStatus('error');
      return;
    }
    this._ws = ws;
    this._ready = false;
    ws.onopen = () => {
      ws.opened = true;
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

  async _onClose(ws, e) {
    if (ws !== this._ws) return;
    this._ws = null;
    this._ready = false;
    this._stopPing();
    if (this._stopped) return;
    if (!ws.opened) {
      // The handshake failed, and the browser does not say why. A page
      // origin the bridge refuses is not worth retrying: ask and say so.
      const refused = await refusalReason(this.getAttribute('server'));
      if (this._stopped || this._ws) return;
      if (refused) {
        this._stopped = true;
        this._abandonSession('origin refused');
        this._report('origin_not_allowed', undefined, { origin: refused.origin || globalThis.location?.origin });
        this._setStatus('error');
        return;
      }
    }
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
      case 'incoming': this._onIncoming(msg); break;
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

  _getMic() {
    return getMic({ processing: this.getAttribute('audio-processing') !== 'off', deviceId: this._micDeviceId });
  }

  async _setupMedia() {
    if (this._pc || this._settingUp) return this._settingUp;
    this._settingUp = (async () => {
      let stream;
      try {
        stream = await this._getMic();
      } catch (err) {
        this._report(err.code);
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
        this._remoteAnalyser = this._analyser(this._remoteStream);
      };
      pc.oniceconnectionstatechange = () => this._onIceState(pc);
      this._micAnalyser = this._analyser(stream);
      this._startMeter();
      this._listDevices();
      this._negotiate();
    })();
    try { await this._settingUp; } finally { this._settingUp = null; }
  }

  _analyser(stream) {
    try {
      if (!this._audioCtx) this._audioCtx = new AudioContext();
    } catch { return null; }
    return createAnalyser(this._audioCtx, stream);
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

  _startMeter() {
    clearInterval(this._meterTimer);
    this._meterTimer = setInterval(() => {
      const lvl = Math.min(100, Math.round(Math.sqrt(this.micLevel()) * 140));
      this._el.bar.style.inlineSize = `${lvl}%`;
      this._el.meter.setAttribute('aria-valuenow', String(lvl));
    }, 100);
  }

  async _listDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    let devs = [];
    try { devs = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
    const track = this._localStream?.getAudioTracks()[0];
    fillDevices(this._el.mic, devs, 'audioinput', this._micDeviceId || track?.getSettings?.().deviceId, (n) => this.t('ui.microphone_n', { n }));
    fillDevices(this._el.spk, devs, 'audiooutput', this._el.audio.sinkId || 'default', (n) => this.t('ui.speaker_n', { n }));
    fillDevices(this._el.ring, devs, 'audiooutput', this._ringtone.sinkId || 'default', (n) => this.t('ui.speaker_n', { n }));
    if (typeof this._el.audio.setSinkId !== 'function') { this._el.spk.disabled = true; this._el.ring.disabled = true; }
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
    this._micAnalyser = this._analyser(stream);
  }

  async _chooseSpeaker(deviceId) {
    try { await this._el.audio.setSinkId(deviceId); } catch { this._showError('output_device_failed'); }
  }

  // Ends everything tied to the bridge session: the peer connection and any call.
  _abandonSession(reason) {
    if (this.incomingCall) this._endIncoming({ call_id: this.incomingCall.call_id, cause: { by: 'bridge', reason: `connection lost (${reason})` } });
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
    this._el.bar.style.inlineSize = '0%';
    this._el.audio.srcObject = null;
  }

  // ---- calls ------------------------------------------------------------

  _onCallState(msg) {
    if (this.incomingCall && msg.call_id === this.incomingCall.call_id) {
      // Still ringing here: only its end matters (answered elsewhere, the
      // caller hung up, nobody answered, declined by the bridge).
      if (msg.state === 'ended') this._endIncoming(msg);
      return;
    }
    const c = this.currentCall;
    const pending = this._pendingCalls.get(msg.request_id);
    if (pending) { this._pendingCalls.delete(msg.request_id); pending.resolve(msg.call_id); }
    if (c && (c.request_id === msg.request_id || c.call_id === msg.call_id || !c.call_id)) {
      const hangupRequested = c.hangupRequested;
      this.currentCall = { ...msg };
      if (c.direction === 'inbound') {
        // An answered inbound call: the far party is the caller.
        Object.assign(this.currentCall, { direction: 'inbound', to: c.to, from: c.from, display_name: c.display_name });
      }
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

  // ---- inbound calls -----------------------------------------------------

  _onIncoming(msg) {
    if (typeof msg.call_id !== 'string' || !msg.call_id) return;
    if (this.incomingCall?.call_id === msg.call_id || this.currentCall?.call_id === msg.call_id) return; // replayed
    if (this.incomingCall) return; // one ringing call at a time; the bridge rings free sessions only
    const inc = {
      call_id: msg.call_id, from: String(msg.from ?? ''), from_raw: String(msg.from_raw ?? ''), to: String(msg.to ?? ''),
      display_name: typeof msg.display_name === 'string' ? msg.display_name : '', seat: msg.seat || this.seat,
    };
    this.incomingCall = inc;
    this._renderIncoming();
    this._ringtone.start();
    this._el.box.dataset.ringing = '';
    // The page may name the caller (a CRM contact lookup), now or later.
    const setDisplayName = (name) => {
      if (this.incomingCall !== inc && this.currentCall?.call_id !== inc.call_id) return false;
      inc.display_name = String(name ?? '');
      if (this.currentCall?.call_id === inc.call_id) { this.currentCall.display_name = inc.display_name; this._renderCall(); }
      this._renderIncoming();
      this._notify();
      return true;
    };
    this.dispatchEvent(new CustomEvent('incoming', { detail: { ...inc, direction: 'inbound', setDisplayName }, bubbles: true, composed: true }));
    this._broadcast('incoming', { ...inc, direction: 'inbound' });
    this._notify();
    if (this.incomingCall === inc) this._el.accept.focus({ preventScroll: true });
  }

  _endIncoming(msg) {
    const inc = this.incomingCall;
    if (!inc) return;
    this._stopRinging();
    this.incomingCall = null;
    this._renderIncoming();
    const [key, vars] = msg.cause?.reason === 'declined' && msg.cause?.by === 'agent' ? ['cause.declined_here']
      : msg.cause?.by === 'remote' ? ['cause.caller_hung_up'] : causeKey(msg.cause);
    this._el.info.textContent = this.t(key, vars);
    this._emit('incomingend', { call_id: inc.call_id, cause: msg.cause || null });
  }

  _stopRinging() {
    this._ringtone.stop();
    delete this._el.box.dataset.ringing;
    this._notification?.close();
    this._notification = null;
  }

  _renderIncoming() {
    const el = this._el;
    const inc = this.incomingCall;
    el.incoming.hidden = !inc;
    if (!inc) return;
    const number = inc.from || inc.from_raw;
    el.inWho.textContent = inc.display_name || number || this.t('incoming.unknown');
    el.inNumber.textContent = inc.display_name ? number : '';
    el.info.textContent = `${this.t('state.incoming')} ${inc.display_name || number || this.t('incoming.unknown')}`;
  }

  // A desktop notification while the page is in the background, when the
  // page opted in (notifications attribute) and the user allowed it.
  _notify() {
    const inc = this.incomingCall;
    if (!inc || !this.hasAttribute('notifications') || typeof Notification === 'undefined') return;
    if (Notification.permission !== 'granted' || !globalThis.document?.hidden) return;
    const caller = inc.display_name ? `${inc.display_name} (${inc.from || inc.from_raw})` : (inc.from || inc.from_raw || this.t('incoming.unknown'));
    try {
      this._notification?.close();
      const n = new Notification(this.t('incoming.title'), {
        body: this.t('incoming.notification', { caller }), tag: `callbridge-${inc.call_id}`, requireInteraction: true,
      });
      n.onclick = () => { globalThis.focus?.(); this._el.accept.focus(); n.close(); };
      this._notification = n;
    } catch { /* not allowed here (e.g. a page that needs a service worker) */ }
  }

  // Page-wide shortcuts while a call rings: Alt+Shift+A accepts, Alt+Shift+D declines.
  _pageShortcut(e) {
    if (!this.incomingCall || !e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey) return;
    const k = e.code === 'KeyA' || e.key?.toUpperCase() === 'A' ? 'accept' : (e.code === 'KeyD' || e.key?.toUpperCase() === 'D' ? 'decline' : '');
    if (!k) return;
    e.preventDefault();
    if (k === 'accept') this.accept(); else this.reject();
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
      this._emitError(code, msg.message || this.t('error.hold_failed'), msg.request_id);
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
    // The bridge's own words for what only it can explain (an `internal`
    // refusal says why: shutting down, call records cannot be saved).
    this._showError(code, this._knows(code) && code !== 'internal' ? undefined : msg.message);
    this._emitError(code, msg.message || this._words(code), msg.request_id);
  }

  _startStats() {
    if (this._statsTimer) return;
    this._statsTimer = setInterval(() => this._uploadStats(), STATS_INTERVAL_MS);
  }

  _stopStats() { clearInterval(this._statsTimer); this._statsTimer = 0; }

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
    el.ring.addEventListener('change', () => this.setRingDevice(el.ring.value).catch(() => {}));
    el.accept.addEventListener('click', () => this.accept());
    el.decline.addEventListener('click', () => this.reject());
    // Keyboard: digits go to the number field before a call and become DTMF
    // during one; Escape hangs up.
    this._root.addEventListener('keydown', (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const inField = e.composedPath()[0]?.tagName === 'INPUT' || e.composedPath()[0]?.tagName === 'SELECT';
      if (this.incomingCall && !this.currentCall) {
        // A ringing call: Enter accepts (unless a button has the focus), Escape declines.
        const onButton = e.composedPath()[0]?.tagName === 'BUTTON';
        if (e.key === 'Enter' && !onButton) { e.preventDefault(); this.accept(); return; }
        if (e.key === 'Escape') { e.preventDefault(); this.reject(); return; }
      }
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
      delete el.box.dataset.outcome;
      const who = c.direction === 'inbound' ? (c.display_name ? `${c.display_name} ${c.from}` : c.from) : (c.to || el.number.value);
      const words = this.t(`state.${c.state}`);
      el.info.textContent = `${words === `state.${c.state}` ? c.state : words} ${who}${this._held ? ` ${this.t('call.on_hold')}` : ''}`;
      if (c.state === 'answered') this._startClock(); else this._stopClock(false);
    } else if (ended) {
      this._stopClock(true);
      const [key, vars] = causeKey(ended.cause);
      el.info.textContent = this.t(key, vars);
      // A call that failed to connect (busy, no answer, refused) stands out.
      if ((Number(ended.cause?.sip_code) || 0) >= 400) el.box.dataset.outcome = 'failed';
      else el.box.dataset.outcome = 'ended';
      this._endedTimer = setTimeout(() => {
        if (!this.currentCall) { el.info.textContent = ''; el.box.dataset.call = 'idle'; delete el.box.dataset.outcome; el.timer.hidden = true; }
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
      el.timer.textContent = clock(Math.floor((Date.now() - start) / 1000));
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
    this._el.hold.textContent = this.t(on ? 'ui.resume' : 'ui.hold');
    if (this.currentCall) this._renderCall();
  }

  _setStatus(s) {
    this.status = s;
    this._renderStatus();
    this._emit('connectionchange', { status: s });
  }

  _renderStatus() {
    const s = this.status;
    this._el.box.dataset.status = s === 'insecure' ? 'error' : s;
    const words = s === 'ready' && this.seat ? this.t('status.ready_seat', { seat: this.seat }) : this.t(`status.${s}`);
    this._el.statusText.textContent = words === `status.${s}` ? s : words;
    this._el.call.disabled = !this._ready;
  }

  _knows(code) { return this.t(`error.${code}`) !== `error.${code}`; }

  _words(code, vars) { return this._knows(code) ? this.t(`error.${code}`, vars) : this.t('error.other', { code }); }

  _showError(code, message, vars) {
    const el = this._el;
    this._error = { code, message, vars };
    el.error.hidden = false;
    el.error.dataset.code = code;
    el.errorMsg.textContent = message || this._words(code, vars);
  }

  _clearError() {
    this._error = null;
    this._el.error.hidden = true;
    delete this._el.error.dataset.code;
    this._el.errorMsg.textContent = '';
  }

  // Shows an error in the widget and emits it as an `error` event.
  _report(code, message, vars) {
    this._showError(code, message, vars);
    this._emitError(code, message || this._words(code, vars));
  }

  _fail(code, message) {
    this._report(code, message);
    return Promise.reject(widgetError(code, message || this._words(code)));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
    this._broadcast(type, detail);
  }

  _emitError(code, message, request_id) {
    const detail = { code, message: message || this._words(code) };
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
      accept: () => this.accept(),
      reject: () => this.reject(args[0]),
      state: () => ({ status: this.status, call: this.currentCall, incoming: this.incomingCall, caller_ids: this.callerIds, seat: this.seat }),
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
