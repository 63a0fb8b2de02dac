// The browser signaling protocol v1 (docs/SIGNALING.md): its timings, the
// WebSocket URL, errors with codes, and how the widget learns why the
// bridge refused its page.

import { ERROR_TEXT } from './strings.js';

export const VERSION = typeof __CALLBRIDGE_VERSION__ === 'string' ? __CALLBRIDGE_VERSION__ : '0.0.0-dev';
export const PING_INTERVAL_MS = 15000;
export const SILENCE_LIMIT_MS = 45000;
export const RECONNECT_MAX_MS = 10000;
export const DTMF_CHARS = '0123456789*#ABCD';

/** The WebSocket URL for a `server` attribute (ws:, wss:, http:, https: or relative). */
export function wsURL(server) {
  const loc = globalThis.location;
  if (!server) {
    return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/v1/ws`;
  }
  const u = new URL(server, loc.href);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  return u.href;
}

/**
 * An Error with a protocol or widget error code. Without a message it
 * carries the code's English words and defaultMessage, so the element shows
 * the words of its own language instead.
 */
export function widgetError(code, message, extra) {
  const e = new Error(message || ERROR_TEXT[code] || code);
  e.code = code;
  if (!message) e.defaultMessage = true;
  if (extra) Object.assign(e, extra);
  return e;
}

/**
 * Asks the bridge why a WebSocket handshake failed: a refused page origin
 * gets a 403 whose JSON reason this page may read (docs/SIGNALING.md).
 * Returns {code, message, origin} or null when that is not the reason.
 */
export async function refusalReason(server) {
  const u = new URL(wsURL(server));
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  try {
    const res = await fetch(u.href, { mode: 'cors', cache: 'no-store', credentials: 'omit' });
    if (res.status !== 403) return null;
    const body = await res.json();
    return body && body.code === 'origin_not_allowed' ? body : null;
  } catch {
    return null; // not readable: some other failure
  }
}
