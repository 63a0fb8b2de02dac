// Media helpers: the microphone, level meters from WebAudio analysers, the
// audio device lists. The peer connection itself is set up by the element
// (element.js), which ties it to the signaling session.

import { widgetError } from './protocol.js';

/** Opens the microphone. processing=false turns echo cancelling, noise suppression and gain control off. */
export async function getMic({ processing = true, deviceId = '' } = {}) {
  if (!globalThis.isSecureContext) throw widgetError('insecure_context');
  if (!navigator.mediaDevices?.getUserMedia) throw widgetError('mic_blocked');
  const audio = { echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing };
  if (deviceId) audio.deviceId = { exact: deviceId };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio, video: false });
  } catch (err) {
    if (err?.name === 'NotFoundError' || err?.name === 'OverconstrainedError') throw widgetError('mic_not_found', undefined, { cause: err });
    throw widgetError('mic_blocked', undefined, { cause: err });
  }
}

/** An AnalyserNode fed by stream, or null without WebAudio. */
export function createAnalyser(audioCtx, stream) {
  try {
    if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
    const src = audioCtx.createMediaStreamSource(stream);
    const an = audioCtx.createAnalyser();
    an.fftSize = 2048;
    an.smoothingTimeConstant = 0.2;
    src.connect(an);
    return an;
  } catch {
    return null; // levels read 0
  }
}

/** RMS level (0..1) of what the analyser hears; buf is scratch space. */
export function rms(analyser, buf) {
  if (!analyser) return 0;
  analyser.getFloatTimeDomainData(buf);
  let s = 0;
  for (let i = 0; i < buf.length; i++) s += buf[i] * buf[i];
  return Math.sqrt(s / buf.length);
}

/** Frequency in Hz of the strongest component the analyser hears. */
export function dominantHz(analyser, sampleRate) {
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return Math.round((best * sampleRate) / analyser.fftSize);
}

/** Fills a <select> with the devices of a kind; label(n) names unlabelled ones. */
export function fillDevices(sel, devices, kind, current, label) {
  const list = devices.filter((d) => d.kind === kind);
  sel.replaceChildren(...list.map((d, i) => {
    const o = document.createElement('option');
    o.value = d.deviceId;
    o.textContent = d.label || label(i + 1);
    o.selected = d.deviceId === current;
    return o;
  }));
  sel.disabled = list.length === 0;
}
