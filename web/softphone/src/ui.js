// The widget's look: its shadow DOM template and style. Every visible word
// comes from the strings table (data-i18n attributes, filled by applyStrings).
// The layout uses grid, flex and logical properties, so it mirrors itself
// in a right-to-left page; phone numbers and the clock stay left to right.

export const STYLE = `
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
.dot { width: 10px; height: 10px; border-radius: 50%; background: var(--_muted); flex: none; }
.sp[data-status="ready"] .dot { background: var(--_accent); }
.sp[data-status="connecting"] .dot, .sp[data-status="reconnecting"] .dot { background: #c98a00; }
.sp[data-status="error"] .dot, .sp[data-status="no_network"] .dot { background: var(--_danger); }
.timer { font-variant-numeric: tabular-nums; color: var(--_muted); }
.callinfo { min-height: 1.4em; color: var(--_muted); text-align: start; }
.sp[data-call="answered"] .callinfo { color: var(--_accent); font-weight: 600; }
.sp[data-call="ended"][data-outcome="failed"] .callinfo { color: var(--_danger); font-weight: 700; font-size: 16px; }
.error { display: flex; gap: 8px; align-items: flex-start; background: color-mix(in srgb, var(--_danger) 10%, var(--_bg)); color: var(--_danger); border: 1px solid var(--_danger); border-radius: calc(var(--_radius) / 2); padding: 6px 8px; }
.error[hidden] { display: none; }
.error .msg { flex: 1; text-align: start; }
label { display: grid; gap: 4px; font-size: 12px; color: var(--_muted); }
input, select { font: inherit; color: var(--_fg); background: var(--_bg); border: 1px solid var(--_border); border-radius: calc(var(--_radius) / 2); padding-block: 6px; padding-inline: 8px; width: 100%; }
input.number { font-size: 18px; letter-spacing: 0.5px; }
.sp:dir(rtl) input.number { text-align: end; }
.from[hidden] { display: none; }
.pad { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px; direction: ltr; }
.pad button { background: var(--_key-bg); color: var(--_fg); border: 1px solid var(--_border); border-radius: calc(var(--_radius) / 2); padding-block: 6px; font-size: 18px; line-height: 1.1; display: grid; }
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
.meter .bar { height: 100%; inline-size: 0%; background: var(--_accent); transition: inline-size 80ms linear; }
.meterrow { display: grid; grid-template-columns: auto 1fr; gap: 8px; align-items: center; font-size: 12px; color: var(--_muted); }
details summary { cursor: pointer; color: var(--_muted); font-size: 12px; }
details[open] { display: grid; gap: 6px; }
.dtmf:empty { display: none; }
.dtmf { font-variant-numeric: tabular-nums; letter-spacing: 2px; color: var(--_muted); min-height: 1em; font-size: 12px; }
.incoming { display: grid; gap: 8px; border: 2px solid var(--_accent); border-radius: calc(var(--_radius) / 2); padding: 8px; }
.incoming[hidden] { display: none; }
.incoming .title { font-size: 12px; color: var(--_muted); }
.incoming .who { font-size: 16px; font-weight: 700; }
.incoming .who-number { color: var(--_muted); }
.incoming .who-number:empty { display: none; }
.incoming .buttons { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
.incoming button { border-radius: calc(var(--_radius) / 2); padding: 8px; font: inherit; font-weight: 600; border: 1px solid var(--_border); }
.incoming .accept { background: var(--_accent); color: var(--_accent-fg); border-color: var(--_accent); }
.incoming .decline { background: var(--_danger); color: var(--_danger-fg); border-color: var(--_danger); }
.incoming .keys { font-size: 11px; color: var(--_muted); }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

// data-i18n: the text; data-i18n-aria: aria-label; data-i18n-placeholder:
// placeholder (unless the element has a placeholder attribute).
export const TEMPLATE = `
<style>${STYLE}</style>
<div class="sp" part="container" role="region" data-i18n-aria="ui.region" data-status="offline" data-call="idle">
  <header part="header">
    <span class="status" part="status" role="status" aria-live="polite"><span class="dot" aria-hidden="true"></span><span class="status-text"></span></span>
    <span class="timer" part="timer" role="timer" data-i18n-aria="ui.timer" dir="ltr" hidden>00:00</span>
  </header>
  <div class="callinfo" part="callinfo" aria-live="polite"></div>
  <div class="error" part="error" role="alert" hidden><span class="msg"></span><button type="button" class="dismiss" data-i18n-aria="ui.dismiss">✕</button></div>
  <div class="incoming" part="incoming" role="alertdialog" aria-labelledby="in-title" aria-describedby="in-who" hidden>
    <span class="title" id="in-title" data-i18n="incoming.title"></span>
    <span id="in-who"><span class="who" part="incoming-caller"></span> <span class="who-number" part="incoming-number" dir="ltr"></span></span>
    <div class="buttons">
      <button type="button" class="accept" part="accept-button" data-i18n="incoming.accept"></button>
      <button type="button" class="decline" part="decline-button" data-i18n="incoming.decline"></button>
    </div>
    <span class="keys" data-i18n="incoming.keys"></span>
  </div>
  <label><span data-i18n="ui.number"></span>
    <input class="number" part="number" type="tel" inputmode="tel" autocomplete="off" dir="ltr" data-i18n-placeholder="ui.placeholder" aria-describedby="dtmf">
  </label>
  <label class="from" hidden><span data-i18n="ui.from"></span>
    <select class="from-select" part="caller-id" dir="ltr"></select>
  </label>
  <div class="pad" part="dialpad" role="group" data-i18n-aria="ui.dialpad"></div>
  <div class="dtmf" id="dtmf" aria-live="polite" dir="ltr"></div>
  <div class="actions" part="actions">
    <button type="button" class="call" part="call-button" data-i18n="ui.call" disabled></button>
    <button type="button" class="hangup" part="hangup-button" data-i18n="ui.hangup" hidden></button>
    <button type="button" class="mute" part="mute-button" aria-pressed="false" disabled></button>
    <button type="button" class="hold" part="hold-button" aria-pressed="false" disabled></button>
  </div>
  <div class="meterrow"><span id="miclabel" data-i18n="ui.mic"></span>
    <div class="meter" part="mic-meter" role="meter" aria-labelledby="miclabel" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><div class="bar"></div></div>
  </div>
  <details class="devices" part="devices">
    <summary data-i18n="ui.devices"></summary>
    <label><span data-i18n="ui.microphone"></span> <select class="mic-select"></select></label>
    <label><span data-i18n="ui.speaker"></span> <select class="spk-select"></select></label>
    <label><span data-i18n="ui.ringer"></span> <select class="ring-select"></select></label>
  </details>
  <audio class="remote" autoplay></audio>
  <audio class="ringtone" part="ringtone"></audio>
</div>`;

/** The dial pad: digit and the letters printed under it. */
export const PAD = [
  ['1', ''], ['2', 'ABC'], ['3', 'DEF'],
  ['4', 'GHI'], ['5', 'JKL'], ['6', 'MNO'],
  ['7', 'PQRS'], ['8', 'TUV'], ['9', 'WXYZ'],
  ['*', ''], ['0', '+'], ['#', ''],
];

/** Fills the template into root and returns its elements by role. */
export function buildUI(root) {
  root.innerHTML = TEMPLATE;
  const $ = (s) => root.querySelector(s);
  const el = {
    box: $('.sp'), statusText: $('.status-text'), timer: $('.timer'), info: $('.callinfo'),
    error: $('.error'), errorMsg: $('.error .msg'), dismiss: $('.dismiss'),
    number: $('.number'), from: $('.from'), fromSelect: $('.from-select'), pad: $('.pad'), dtmf: $('.dtmf'),
    call: $('.call'), hangup: $('.hangup'), mute: $('.mute'), hold: $('.hold'),
    meter: $('.meter'), bar: $('.meter .bar'), mic: $('.mic-select'), spk: $('.spk-select'), audio: $('.remote'),
    incoming: $('.incoming'), inWho: $('.incoming .who'), inNumber: $('.incoming .who-number'),
    accept: $('.incoming .accept'), decline: $('.incoming .decline'), ring: $('.ring-select'), ringAudio: $('.ringtone'),
  };
  for (const [d, letters] of PAD) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.digit = d;
    b.innerHTML = `<span>${d}</span><small>${letters}</small>`;
    el.pad.append(b);
  }
  return el;
}

/** Writes the strings of language t into the template's static parts. */
export function applyStrings(root, el, t, placeholder) {
  for (const n of root.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
  for (const n of root.querySelectorAll('[data-i18n-aria]')) n.setAttribute('aria-label', t(n.dataset.i18nAria));
  el.number.placeholder = placeholder ?? t('ui.placeholder');
  for (const b of el.pad.querySelectorAll('button[data-digit]')) {
    const d = b.dataset.digit;
    const letters = PAD.find(([k]) => k === d)[1];
    b.setAttribute('aria-label', letters ? `${d} ${letters}` : ({ '*': t('ui.star'), '#': t('ui.pound') }[d] || d));
  }
}

/** mm:ss of a call's duration in seconds. */
export function clock(s) {
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
