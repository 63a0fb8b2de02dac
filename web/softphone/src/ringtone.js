// The ringtone of an incoming call, made with WebAudio (no audio file to
// ship): two mixed sines, 2 s on and 4 s off, played through its own
// <audio> element so that it can ring on another output device than the
// call's (HTMLMediaElement.setSinkId, where the browser has it).

export const RING_HZ = [440, 480];
export const RING_ON_S = 2;
export const RING_PERIOD_S = 6;

export class Ringtone {
  /** audio: the <audio> element it plays through. */
  constructor(audio) {
    this._audio = audio;
    this._ctx = null;
    this._oscs = [];
    this._timer = 0;
    this._sinkId = '';
  }

  /** True while it rings. */
  get playing() { return !!this._ctx; }

  /** The output device it rings on ('' for the default). */
  get sinkId() { return this._sinkId; }

  /** Whether this browser can pick the ringing device. */
  get canChooseDevice() { return typeof this._audio.setSinkId === 'function'; }

  /** Rings on deviceId (applied at once when ringing). Rejects when the device cannot be used. */
  async setSinkId(deviceId) {
    this._sinkId = deviceId || '';
    if (this.canChooseDevice) await this._audio.setSinkId(this._sinkId);
  }

  /** Starts ringing; a second start while ringing does nothing. */
  start() {
    if (this._ctx) return;
    let ctx;
    try { ctx = new AudioContext(); } catch { return; } // no WebAudio: a silent panel still rings
    this._ctx = ctx;
    ctx.resume?.().catch(() => {});
    const gain = ctx.createGain();
    gain.gain.value = 0;
    const dest = ctx.createMediaStreamDestination();
    gain.connect(dest);
    for (const hz of RING_HZ) {
      const o = ctx.createOscillator();
      o.frequency.value = hz;
      o.connect(gain);
      o.start();
      this._oscs.push(o);
    }
    // The cadence: schedule one burst per period, a little ahead.
    const burst = () => {
      const t = ctx.currentTime + 0.02;
      gain.gain.setValueAtTime(0.25, t);
      gain.gain.setValueAtTime(0, t + RING_ON_S);
    };
    burst();
    this._timer = setInterval(burst, RING_PERIOD_S * 1000);
    const a = this._audio;
    a.srcObject = dest.stream;
    if (this._sinkId && this.canChooseDevice) a.setSinkId(this._sinkId).catch(() => {});
    a.play().catch(() => {}); // autoplay refused: the panel and notification still show
  }

  /** Stops ringing at once. */
  stop() {
    clearInterval(this._timer);
    this._timer = 0;
    for (const o of this._oscs.splice(0)) { try { o.stop(); } catch { /* stopped */ } }
    const a = this._audio;
    a.pause();
    a.srcObject = null;
    const ctx = this._ctx;
    this._ctx = null;
    ctx?.close().catch(() => {});
  }
}
