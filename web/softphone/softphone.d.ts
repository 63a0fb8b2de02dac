// Type declarations of the callbridge softphone widget's public API:
// the <callbridge-softphone> element (attributes, properties, methods,
// events), the click-to-call helpers, and the postMessage protocol of an
// embedding iframe. docs/WIDGET.md describes each in words.

/** The element's connection status (`status` property, `connectionchange` event). */
export type ConnectionStatus =
  | 'offline' | 'connecting' | 'ready' | 'reconnecting' | 'no_network' | 'error'
  /** The page is not a secure context (needs HTTPS or localhost): the widget cannot call. */
  | 'insecure';

/** A call's state, as the bridge reports it in `call_state`. */
export type CallStateName = 'dialing' | 'ringing' | 'early_media' | 'answered' | 'ended';

/** Why a call ended. */
export interface CallCause {
  /** SIP status of the end (e.g. 486 busy, 200 after an answered call). */
  sip_code?: number;
  /** ITU-T Q.850 cause value. */
  q850?: number;
  reason?: string;
  /** Who ended it. */
  by?: 'agent' | 'remote' | 'bridge';
}

/** A `call_state` message of the signaling protocol (docs/SIGNALING.md). */
export interface CallState {
  type?: 'call_state';
  call_id: string;
  request_id: string;
  state: CallStateName;
  /** E.164. */
  to: string;
  /** E.164 caller ID. */
  from: string;
  /** Present when state is 'ended'. */
  cause?: CallCause;
}

/** The call in progress as the element keeps it (`currentCall`). */
export interface CurrentCall extends CallState {
  /** Epoch ms of the answer; 0 before it. */
  answeredAt?: number;
  /** 'inbound' for an accepted incoming call: then `from` is the caller and `to` the seat's DID. */
  direction?: 'inbound';
  /** The caller's name of an accepted incoming call (the trunk's, or what the page set). */
  display_name?: string;
}

/** An inbound call ringing this session (`incomingCall`, and the `incoming` event's detail). */
export interface IncomingCall {
  call_id: string;
  /** The caller: E.164 when it normalizes, else as the trunk presented it. */
  from: string;
  /** The From user exactly as the trunk sent it. */
  from_raw: string;
  /** The seat's DID that was called (E.164). */
  to: string;
  /** The caller's name: the trunk's From display name, or what the page set; '' when unknown. */
  display_name: string;
  seat: string;
}

/** Detail of the `incoming` event. */
export interface IncomingDetail extends IncomingCall {
  direction: 'inbound';
  /**
   * Names the caller in the panel and the desktop notification (e.g. the
   * CRM's contact for the number). May be called later, after a lookup;
   * false once the call no longer rings and is not the call in progress.
   */
  setDisplayName(name: string): boolean;
}

/** Detail of the `incomingend` event: a call that rang here stopped ringing without being answered here. */
export interface IncomingEndDetail {
  call_id: string;
  /**
   * Why: `reason` 'answered_elsewhere' (another session of the seat took
   * it), 'declined' with by 'agent' (declined here), by 'remote' (the caller
   * hung up), a 'missed: …' reason (the seat's fallback applied).
   */
  cause: CallCause | null;
}

/** The signaling protocol's `ready` message (`ready` event detail). */
export interface ReadyMessage {
  type: 'ready';
  session_id: string;
  seat: string;
  caller_ids: string[];
  ice_servers: RTCIceServer[];
}

/** The `resumed` message: the socket was re-attached to the session. */
export interface ResumedMessage {
  type: 'resumed';
  session_id: string;
  calls: string[];
  /** The calls' states now, with `answered_at` and `hold`. */
  call_states?: CallState[];
  /** The next single-use resume credential. */
  resume_token?: string;
}

/** Error codes of the protocol and of the widget itself. */
export type ErrorCode =
  | 'unauthorized' | 'bad_request' | 'invalid_number' | 'caller_id_not_allowed' | 'destination_not_allowed'
  | 'too_many_calls' | 'rate_limited' | 'no_media' | 'unknown_call' | 'internal' | 'trunk_unavailable'
  | 'mic_blocked' | 'mic_not_found' | 'no_network' | 'connection_failed' | 'not_connected' | 'no_call'
  | 'bad_metadata' | 'hold_failed' | 'replaced' | 'output_device_failed' | 'insecure_context' | 'origin_not_allowed'
  | (string & {});

/** Detail of the `error` event. */
export interface ErrorDetail {
  code: ErrorCode;
  message: string;
  request_id?: string;
}

/** An Error a rejected `call()` carries. */
export interface CallbridgeError extends Error {
  code: ErrorCode;
}

/** Detail of the `callended` event: once per call. */
export interface CallEndedDetail {
  call_id: string;
  cause: CallCause | null;
}

/** Detail of the `dtmf` event: a digit the far end sent. */
export interface DtmfDetail {
  call_id: string;
  digit: string;
}

/** The `stats` message the widget uploads during a call. */
export interface StatsMessage {
  type: 'stats';
  /** The agent muted the microphone in the widget. */
  muted: boolean;
  call_id: string;
  inbound: { packetsReceived?: number; packetsLost?: number; jitter?: number; audioLevel?: number; totalAudioEnergy?: number };
  outbound: { packetsSent?: number; audioLevel?: number };
  candidate_pair: { local?: string; remote?: string; state?: string; currentRoundTripTime?: number };
}

/** The element's events (they bubble and cross shadow roots), by name. */
export interface CallbridgeSoftphoneEventMap {
  ready: CustomEvent<ReadyMessage>;
  resumed: CustomEvent<ResumedMessage>;
  statechange: CustomEvent<CallState>;
  callended: CustomEvent<CallEndedDetail>;
  error: CustomEvent<ErrorDetail>;
  connectionchange: CustomEvent<{ status: ConnectionStatus }>;
  dtmf: CustomEvent<DtmfDetail>;
  /** Another tab took this tab's call ("Move the call here"). */
  callmoved: CustomEvent<{ call_id: string }>;
  /** An inbound call rings this session (the panel shows, the ringtone plays). */
  incoming: CustomEvent<IncomingDetail>;
  /** The ringing inbound call was accepted here; `statechange` follows. */
  accepted: CustomEvent<{ call_id: string }>;
  incomingend: CustomEvent<IncomingEndDetail>;
}

/** Options of `call()`. */
export interface CallOptions {
  /** Caller ID: one of `callerIds`; default the first. */
  from?: string;
  /** JSON object (≤ 4 KiB) carried to the call's webhooks. */
  metadata?: Record<string, unknown>;
}

/** The element's HTML attributes (for templates and JSX). */
export interface CallbridgeSoftphoneAttributes {
  /** WebSocket URL of the bridge (wss://bridge.example.com/v1/ws); default: /v1/ws of the page's host. */
  server?: string;
  /** Your backend's URL that returns {"token": "<seat token>"}. */
  'token-url'?: string;
  /** Present: do not connect until connect() is called. */
  manual?: boolean | '';
  /** Present: every tel: link and [data-callbridge-number] element of the page dials through this widget. */
  'click-to-call'?: boolean | '';
  /** Language of the widget's words (BCP 47; shipped: en, de); default the page's. */
  lang?: string;
  /** Placeholder of the number field. */
  placeholder?: string;
  /** 'off' turns the browser's echo cancelling, noise suppression and gain control off. */
  'audio-processing'?: 'on' | 'off';
  /** Origins allowed to drive the widget with postMessage (space or comma separated). */
  'allowed-origins'?: string;
  /** deviceId of the output device the ringtone plays on (setSinkId); default the system's. */
  'ring-device'?: string;
  /** Present: show a desktop notification when a call rings while the page is hidden (after enableNotifications()). */
  notifications?: boolean | '';
}

/** <callbridge-softphone>. */
export declare class CallbridgeSoftphone extends HTMLElement {
  static readonly observedAttributes: string[];
  /** The widget's version: the npm package's, the same as the bridge release's. */
  static readonly version: string;

  status: ConnectionStatus;
  sessionId: string;
  seat: string;
  /** Numbers the seat may call from (E.164), from `ready`. */
  callerIds: string[];
  iceServers: RTCIceServer[];
  /** The call in progress, or null. */
  currentCall: CurrentCall | null;
  /** The inbound call ringing this session and not yet answered, or null. */
  incomingCall: IncomingCall | null;
  /** Whether the ringtone is playing. */
  readonly ringing: boolean;
  /** The output device the ringtone plays on ('' for the default). */
  readonly ringDevice: string;
  /** The language the widget speaks ('en', 'de'). */
  readonly language: string;
  /** The peer connection of the media session (for diagnostics). */
  readonly peerConnection: RTCPeerConnection | null;

  /** The widget's words for a strings-table key (see STRINGS). */
  t(key: string, vars?: Record<string, string | number>): string;

  /**
   * Returns a fresh seat token. Assign your own function to mint tokens
   * another way; the default fetches `token-url`. Called on every (re)connect.
   */
  getToken: () => Promise<string>;

  /** Opens the signaling connection (automatic unless `manual`). */
  connect(): Promise<void>;
  /** Closes the connection and the media session; a call in progress ends. */
  disconnect(): void;
  /** Places a call; resolves with its call_id, rejects with a CallbridgeError. */
  call(number: string, options?: CallOptions): Promise<string>;
  /** Ends the call in progress, or declines a ringing one; false when there is none. */
  hangup(): boolean;
  /** Answers the ringing inbound call; false when nothing rings. */
  accept(): boolean;
  /** Declines the ringing inbound call for this session (it rings on elsewhere); false when nothing rings. */
  reject(reason?: 'decline' | 'busy'): boolean;
  /** Picks the ringtone's output device (a deviceId; '' for the default); rejects with output_device_failed. */
  setRingDevice(deviceId: string): Promise<void>;
  /** Asks for the Notification permission (call from a user gesture) and sets the `notifications` attribute. */
  enableNotifications(): Promise<NotificationPermission | 'unsupported'>;
  /** Sends DTMF digits (0-9 * # A-D, at most 32) during a call. */
  sendDigits(digits: string, durationMs?: number): boolean;
  /** Mutes (true) or unmutes (false) the microphone; returns the new state. */
  mute(on?: boolean): boolean;
  /** Holds (true) or resumes (false) the call. */
  hold(on?: boolean): boolean;
  /** Moves the call another tab of this CRM shows to this tab; false when there is none. */
  moveCallHere(): boolean;
  /** Restarts ICE without dropping the call. */
  restartIce(): void;
  /** RMS level (0..1) of the far end's audio. */
  remoteLevel(): number;
  /** RMS level (0..1) of the microphone (0 when muted). */
  micLevel(): number;
  /** Frequency (Hz) of the strongest component of the far end's audio; 0 when silent. */
  remoteDominantHz(): number;
  /** Binds click-to-call under root; returns the function that unbinds it. */
  bindClickToCall(root?: Document | Element | ShadowRoot): () => void;
  /** The stats summary of the call in progress, or null. */
  statsSummary(): Promise<StatsMessage | null>;

  addEventListener<K extends keyof CallbridgeSoftphoneEventMap>(type: K, listener: (this: CallbridgeSoftphone, ev: CallbridgeSoftphoneEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof CallbridgeSoftphoneEventMap>(type: K, listener: (this: CallbridgeSoftphone, ev: CallbridgeSoftphoneEventMap[K]) => unknown, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

/** Binds click-to-call under root to a softphone element; returns the unbinder. */
export declare function bindClickToCall(root?: Document | Element | ShadowRoot, softphone?: CallbridgeSoftphone): () => void;
/** The dialable number of a tel: URI (RFC 3966); '' when href is not one. */
export declare function telNumber(href: string): string;
/** English words for an ended call's cause. */
export declare function causeText(cause: CallCause | null | undefined, t?: (key: string, vars?: Record<string, string | number>) => string): string;
/** English words for each error code. */
export declare const ERROR_TEXT: Readonly<Record<string, string>>;
/** Every word the widget shows, by language and key. */
export declare const STRINGS: Readonly<Record<'en' | 'de', Readonly<Record<string, string>>>>;
/** The widget's version. */
export declare const VERSION: string;

// ---- iframe embedding: the postMessage protocol -------------------------

/** Methods an allowed parent window may call. */
export type PostMessageMethod = 'call' | 'hangup' | 'sendDigits' | 'mute' | 'hold' | 'accept' | 'reject' | 'subscribe' | 'state';

/** A request from the parent window to the widget's window. */
export interface PostMessageRequest {
  callbridge: 1;
  id?: string | number;
  method: PostMessageMethod;
  args?: unknown[];
}

/** The widget's reply to a request. */
export type PostMessageReply =
  | { callbridge: 1; id?: string | number; ok: true; result: unknown }
  | { callbridge: 1; id?: string | number; ok: false; error: { code: ErrorCode; message: string } };

/** An event the widget forwards to subscribed windows. */
export type PostMessageEvent = {
  [K in keyof CallbridgeSoftphoneEventMap]: { callbridge: 1; event: K; detail: CallbridgeSoftphoneEventMap[K]['detail'] }
}[keyof CallbridgeSoftphoneEventMap];

/** The result of the `state` method. */
export interface PostMessageState {
  status: ConnectionStatus;
  call: CurrentCall | null;
  /** The inbound call ringing, or null. */
  incoming: IncomingCall | null;
  caller_ids: string[];
  seat: string;
}

declare global {
  interface HTMLElementTagNameMap {
    'callbridge-softphone': CallbridgeSoftphone;
  }
}
