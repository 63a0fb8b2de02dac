// Calls that outlive the page: a reloaded page, a navigation to another
// page with the widget, a second tab of the same CRM, a network change. The
// call goes on (docs/SIGNALING.md, "Calls that outlive the page";
// docs/WIDGET.md, "Network behaviour").
//
// - sessionStorage (per tab, never localStorage) keeps the session id, the
//   single-use resume credential, the call ids, mute and hold. On load the
//   widget resumes the session with `new_peer: true`, makes a fresh peer
//   connection and shows the call as it was: timer from `answered_at`, mute,
//   hold. On pagehide it says `leaving`, so the bridge plays comfort noise to
//   the far end and waits webrtc.page_grace for the page to come back.
// - Tabs of one origin talk over a BroadcastChannel: the tab whose session
//   owns the call announces it; the others show it and can hang up, hold,
//   mute, or "move the call here" (`take`). When the owning tab closes, the
//   others offer to move the call.
// - A network change: "reconnecting" while ICE restarts; the timer runs on.
//
// It extends the element's prototype: importing it (index.js does) is all.

import { CallbridgeSoftphone } from './element.js';

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
    o.take.textContent = this.t('tab.move_here');
    o.hangup.textContent = this.t('tab.hangup');
    if (!t) return;
    const words = this.t(`state.${t.call.state}`);
    const state = words === `state.${t.call.state}` ? t.call.state : words;
    o.text.textContent = t.gone
      ? this.t('tab.closed', { to: t.call.to })
      : [this.t('tab.call', { state, to: t.call.to }), t.held ? this.t('call.on_hold') : '', t.muted ? this.t('tab.muted') : ''].filter(Boolean).join(' ');
    o.mute.textContent = this.t(t.muted ? 'tab.unmute' : 'tab.mute');
    o.hold.textContent = this.t(t.held ? 'tab.resume' : 'tab.hold');
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
