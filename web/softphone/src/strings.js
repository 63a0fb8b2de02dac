// Every word the widget shows, per language. English is complete and the
// fallback for any key another table lacks. Add a language by adding a
// table here (keys as in `en`); `lang` on the element (or the page) picks
// it. {name} placeholders are filled by t().

const en = {
  // Errors: the signaling protocol's codes and the widget's own.
  'error.unauthorized': 'Sign-in to the phone service failed. Reload the page or sign in to the CRM again.',
  'error.bad_request': 'The phone service did not understand the request.',
  'error.invalid_number': 'That phone number is not valid. Check it and try again.',
  'error.caller_id_not_allowed': 'You are not allowed to call from that number. Pick another caller ID.',
  'error.destination_not_allowed': 'Calls to that destination are not allowed for your seat.',
  'error.too_many_calls': 'You already have a call in progress. Hang up before starting another.',
  'error.rate_limited': 'Too many calls in a short time. Wait a moment and try again.',
  'error.no_media': 'The audio connection could not be set up. Check your network or firewall.',
  'error.unknown_call': 'That call has already ended.',
  'error.internal': 'Something went wrong in the phone service. Try again.',
  'error.trunk_unavailable': 'The phone line is down: the carrier cannot be reached. Try again in a few minutes.',
  'error.mic_blocked': 'Microphone access is blocked. Allow the microphone for this site (icon in the address bar), then try again.',
  'error.mic_not_found': 'No microphone found. Plug in a headset and try again.',
  'error.no_network': 'No network connection. The phone reconnects by itself when you are back online.',
  'error.connection_failed': 'Cannot reach the phone service. Retrying…',
  'error.not_connected': 'The phone is not connected yet. Wait a moment and try again.',
  'error.no_call': 'There is no call in progress.',
  'error.bad_metadata': 'The link carries call data that is not valid JSON; it was left out.',
  'error.hold_failed': 'The call could not be put on hold.',
  'error.replaced': 'The phone was opened in another window. Reload this page to use it here.',
  'error.output_device_failed': 'That speaker cannot be used. Pick another one.',
  'error.insecure_context': 'The phone needs HTTPS or localhost: this page was opened over plain http, where the browser blocks the microphone. Open it with https:// (or on this computer as http://localhost).',
  'error.origin_not_allowed': 'The phone service does not accept this page ({origin}). Ask your administrator to add it to http.allowed_origins.',
  'error.bad_dtmf': 'DTMF digits must be 0-9, *, #, A-D (at most 32).',
  'error.bad_server': 'Bad server address: {detail}',
  'error.no_token_url': 'No token-url attribute and no getToken() hook set.',
  'error.token_http': 'Token request failed with HTTP {status}.',
  'error.token_body': 'The token endpoint did not return {"token": "..."}.',
  'error.other': 'Error: {code}',
  // Connection status.
  'status.offline': 'Offline',
  'status.connecting': 'Connecting…',
  'status.ready': 'Ready',
  'status.ready_seat': 'Ready · {seat}',
  'status.reconnecting': 'Reconnecting…',
  'status.no_network': 'No network',
  'status.error': 'Not connected',
  'status.insecure': 'Needs HTTPS',
  // Call states and how calls end.
  'state.dialing': 'Calling',
  'state.ringing': 'Ringing',
  'state.early_media': 'Ringing',
  'state.answered': 'Connected',
  'state.ended': 'Call ended',
  'call.on_hold': '(on hold)',
  'cause.busy': 'Busy',
  'cause.no_answer': 'No answer',
  'cause.cancelled': 'Call cancelled',
  'cause.not_found': 'Number not found',
  'cause.incomplete': 'Number incomplete',
  'cause.declined': 'Call declined',
  'cause.forbidden': 'Call not allowed',
  'cause.line_down': 'The phone line is down',
  'cause.line_failed': 'The phone line failed',
  'cause.line_timeout': 'The phone line timed out',
  'cause.remote': 'The other party hung up',
  'cause.agent': 'You hung up',
  'cause.reason': 'Call ended: {reason}',
  'cause.ended': 'Call ended',
  // Controls.
  'ui.region': 'Softphone',
  'ui.timer': 'Call duration',
  'ui.dismiss': 'Dismiss message',
  'ui.number': 'Phone number',
  'ui.placeholder': 'Number to call',
  'ui.from': 'Call from',
  'ui.dialpad': 'Dial pad',
  'ui.call': 'Call',
  'ui.hangup': 'Hang up',
  'ui.mute': 'Mute',
  'ui.unmute': 'Unmute',
  'ui.hold': 'Hold',
  'ui.resume': 'Resume',
  'ui.mic': 'Mic',
  'ui.devices': 'Audio devices',
  'ui.microphone': 'Microphone',
  'ui.speaker': 'Speaker',
  'ui.microphone_n': 'Microphone {n}',
  'ui.speaker_n': 'Speaker {n}',
  'ui.star': 'star',
  'ui.pound': 'pound',
  'ui.call_number': 'Call {number}',
  'tab.call': '{state} {to} in another tab',
  'tab.muted': '(muted)',
  'tab.closed': 'The tab with the call to {to} closed. Move the call here to keep talking.',
  'tab.move_here': 'Move the call here',
  'tab.hangup': 'Hang up',
  'tab.mute': 'Mute',
  'tab.unmute': 'Unmute',
  'tab.hold': 'Hold',
  'tab.resume': 'Resume',
  'ui.ringer': 'Ringing device',
  'incoming.title': 'Incoming call',
  'incoming.accept': 'Accept',
  'incoming.decline': 'Decline',
  'incoming.keys': 'Enter or Alt+Shift+A accepts, Escape or Alt+Shift+D declines',
  'incoming.unknown': 'Unknown caller',
  'incoming.notification': 'Incoming call from {caller}',
  'state.incoming': 'Incoming call from',
  'cause.answered_elsewhere': 'Answered on another device',
  'cause.declined_here': 'You declined the call',
  'cause.caller_hung_up': 'The caller hung up',
};

const de = {
  'error.unauthorized': 'Die Anmeldung beim Telefondienst ist fehlgeschlagen. Laden Sie die Seite neu oder melden Sie sich erneut im CRM an.',
  'error.bad_request': 'Der Telefondienst hat die Anfrage nicht verstanden.',
  'error.invalid_number': 'Diese Telefonnummer ist ungültig. Prüfen Sie sie und versuchen Sie es erneut.',
  'error.caller_id_not_allowed': 'Von dieser Nummer dürfen Sie nicht anrufen. Wählen Sie eine andere Absendernummer.',
  'error.destination_not_allowed': 'Anrufe zu diesem Ziel sind für Ihren Platz nicht erlaubt.',
  'error.too_many_calls': 'Sie telefonieren bereits. Legen Sie auf, bevor Sie einen neuen Anruf beginnen.',
  'error.rate_limited': 'Zu viele Anrufe in kurzer Zeit. Warten Sie einen Moment und versuchen Sie es erneut.',
  'error.no_media': 'Die Audioverbindung konnte nicht aufgebaut werden. Prüfen Sie Netzwerk oder Firewall.',
  'error.unknown_call': 'Dieser Anruf ist bereits beendet.',
  'error.internal': 'Im Telefondienst ist ein Fehler aufgetreten. Versuchen Sie es erneut.',
  'error.trunk_unavailable': 'Die Telefonleitung ist gestört: der Anbieter ist nicht erreichbar. Versuchen Sie es in einigen Minuten erneut.',
  'error.mic_blocked': 'Der Mikrofonzugriff ist blockiert. Erlauben Sie das Mikrofon für diese Seite (Symbol in der Adressleiste) und versuchen Sie es erneut.',
  'error.mic_not_found': 'Kein Mikrofon gefunden. Schließen Sie ein Headset an und versuchen Sie es erneut.',
  'error.no_network': 'Keine Netzwerkverbindung. Das Telefon verbindet sich von selbst, sobald Sie wieder online sind.',
  'error.connection_failed': 'Der Telefondienst ist nicht erreichbar. Neuer Versuch…',
  'error.not_connected': 'Das Telefon ist noch nicht verbunden. Warten Sie einen Moment und versuchen Sie es erneut.',
  'error.no_call': 'Es läuft kein Anruf.',
  'error.bad_metadata': 'Der Link enthält Anrufdaten, die kein gültiges JSON sind; sie wurden weggelassen.',
  'error.hold_failed': 'Der Anruf konnte nicht gehalten werden.',
  'error.replaced': 'Das Telefon wurde in einem anderen Fenster geöffnet. Laden Sie diese Seite neu, um es hier zu verwenden.',
  'error.output_device_failed': 'Dieser Lautsprecher kann nicht verwendet werden. Wählen Sie einen anderen.',
  'error.insecure_context': 'Das Telefon braucht HTTPS oder localhost: Diese Seite wurde über unverschlüsseltes http geöffnet, wo der Browser das Mikrofon sperrt. Öffnen Sie sie mit https:// (oder auf diesem Rechner als http://localhost).',
  'error.origin_not_allowed': 'Der Telefondienst akzeptiert diese Seite ({origin}) nicht. Bitten Sie Ihre Administration, sie in http.allowed_origins aufzunehmen.',
  'error.bad_dtmf': 'DTMF-Ziffern müssen 0-9, *, #, A-D sein (höchstens 32).',
  'error.bad_server': 'Ungültige Serveradresse: {detail}',
  'error.no_token_url': 'Weder ein token-url-Attribut noch ein getToken()-Hook ist gesetzt.',
  'error.token_http': 'Die Token-Anfrage ist mit HTTP {status} fehlgeschlagen.',
  'error.token_body': 'Der Token-Endpunkt hat kein {"token": "..."} geliefert.',
  'error.other': 'Fehler: {code}',
  'status.offline': 'Offline',
  'status.connecting': 'Verbinde…',
  'status.ready': 'Bereit',
  'status.ready_seat': 'Bereit · {seat}',
  'status.reconnecting': 'Verbinde neu…',
  'status.no_network': 'Kein Netzwerk',
  'status.error': 'Nicht verbunden',
  'status.insecure': 'HTTPS nötig',
  'state.dialing': 'Wähle',
  'state.ringing': 'Es klingelt',
  'state.early_media': 'Es klingelt',
  'state.answered': 'Verbunden',
  'state.ended': 'Anruf beendet',
  'call.on_hold': '(gehalten)',
  'cause.busy': 'Besetzt',
  'cause.no_answer': 'Keine Antwort',
  'cause.cancelled': 'Anruf abgebrochen',
  'cause.not_found': 'Nummer nicht vergeben',
  'cause.incomplete': 'Nummer unvollständig',
  'cause.declined': 'Anruf abgelehnt',
  'cause.forbidden': 'Anruf nicht erlaubt',
  'cause.line_down': 'Die Telefonleitung ist gestört',
  'cause.line_failed': 'Die Telefonleitung ist ausgefallen',
  'cause.line_timeout': 'Die Telefonleitung antwortet nicht',
  'cause.remote': 'Die Gegenseite hat aufgelegt',
  'cause.agent': 'Sie haben aufgelegt',
  'cause.reason': 'Anruf beendet: {reason}',
  'cause.ended': 'Anruf beendet',
  'ui.region': 'Telefon',
  'ui.timer': 'Gesprächsdauer',
  'ui.dismiss': 'Meldung schließen',
  'ui.number': 'Telefonnummer',
  'ui.placeholder': 'Zu wählende Nummer',
  'ui.from': 'Anrufen von',
  'ui.dialpad': 'Wähltastatur',
  'ui.call': 'Anrufen',
  'ui.hangup': 'Auflegen',
  'ui.mute': 'Stumm',
  'ui.unmute': 'Ton an',
  'ui.hold': 'Halten',
  'ui.resume': 'Fortsetzen',
  'ui.mic': 'Mikro',
  'ui.devices': 'Audiogeräte',
  'ui.microphone': 'Mikrofon',
  'ui.speaker': 'Lautsprecher',
  'ui.microphone_n': 'Mikrofon {n}',
  'ui.speaker_n': 'Lautsprecher {n}',
  'ui.star': 'Stern',
  'ui.pound': 'Raute',
  'ui.call_number': '{number} anrufen',
  'tab.call': '{state} {to} in einem anderen Tab',
  'tab.muted': '(stumm)',
  'tab.closed': 'Der Tab mit dem Anruf an {to} wurde geschlossen. Holen Sie den Anruf hierher, um weiterzusprechen.',
  'tab.move_here': 'Anruf hierher holen',
  'tab.hangup': 'Auflegen',
  'tab.mute': 'Stumm',
  'tab.unmute': 'Ton an',
  'tab.hold': 'Halten',
  'tab.resume': 'Fortsetzen',
  'ui.ringer': 'Klingelgerät',
  'incoming.title': 'Eingehender Anruf',
  'incoming.accept': 'Annehmen',
  'incoming.decline': 'Ablehnen',
  'incoming.keys': 'Eingabe oder Alt+Umschalt+A nimmt an, Escape oder Alt+Umschalt+D lehnt ab',
  'incoming.unknown': 'Unbekannter Anrufer',
  'incoming.notification': 'Eingehender Anruf von {caller}',
  'state.incoming': 'Eingehender Anruf von',
  'cause.answered_elsewhere': 'Auf einem anderen Gerät angenommen',
  'cause.declined_here': 'Sie haben den Anruf abgelehnt',
  'cause.caller_hung_up': 'Der Anrufer hat aufgelegt',
};

/** The shipped tables, by primary language subtag (BCP 47). */
export const STRINGS = Object.freeze({ en: Object.freeze(en), de: Object.freeze(de) });

/** Languages written right to left (primary subtags). */
const RTL = new Set(['ar', 'fa', 'he', 'ur', 'ps', 'dv', 'yi']);

/** Picks the shipped table for a BCP 47 tag: 'de-AT' → 'de'; unknown → 'en'. */
export function pickLanguage(tag) {
  const primary = String(tag || '').toLowerCase().split(/[-_]/)[0];
  return Object.prototype.hasOwnProperty.call(STRINGS, primary) ? primary : 'en';
}

/** Reports whether a BCP 47 tag is a right-to-left language. */
export function isRTL(tag) {
  return RTL.has(String(tag || '').toLowerCase().split(/[-_]/)[0]);
}

/** Returns t(key, vars) for a language: its table, then English, then the key. */
export function translator(lang) {
  const table = STRINGS[pickLanguage(lang)];
  return (key, vars) => {
    const s = table[key] ?? en[key] ?? key;
    return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : s;
  };
}

/** English words for each error code, as earlier versions exported them. */
export const ERROR_TEXT = Object.freeze(Object.fromEntries(
  Object.entries(en).filter(([k]) => k.startsWith('error.')).map(([k, v]) => [k.slice(6), v]),
));

const CAUSE_BY_SIP = {
  486: 'busy', 600: 'busy', 480: 'no_answer', 408: 'no_answer', 487: 'cancelled',
  404: 'not_found', 484: 'incomplete', 603: 'declined', 403: 'forbidden',
  503: 'line_down', 502: 'line_down', 500: 'line_failed', 504: 'line_timeout',
};

/** The key of the words for an ended call's cause ({sip_code, q850, reason, by}), and its vars. */
export function causeKey(cause) {
  if (!cause) return ['cause.ended'];
  if (cause.reason === 'answered_elsewhere') return ['cause.answered_elsewhere'];
  const k = CAUSE_BY_SIP[Number(cause.sip_code) || 0];
  if (k) return [`cause.${k}`];
  if (cause.by === 'remote') return ['cause.remote'];
  if (cause.by === 'agent') return ['cause.agent'];
  if (cause.reason) return ['cause.reason', { reason: cause.reason }];
  return ['cause.ended'];
}

/** Human words for an ended call's cause, in English unless a translator is given. */
export function causeText(cause, t = translator('en')) {
  const [key, vars] = causeKey(cause);
  return t(key, vars);
}
