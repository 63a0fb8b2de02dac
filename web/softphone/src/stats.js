// The call-quality summary the widget uploads every few seconds during a
// call (message `stats`, docs/SIGNALING.md), built from getStats().

export const STATS_INTERVAL_MS = 5000;

function candidateString(c) {
  if (!c) return '';
  const addr = c.address || c.ip || '';
  return `${c.candidateType || ''} ${c.protocol || ''} ${addr}:${c.port || ''}`.trim();
}

/** Summarizes an RTCStatsReport into the `stats` message of a call; muted
 *  says whether the agent muted the microphone in the widget. */
export function summarizeStats(report, callId, muted = false) {
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
  return { type: 'stats', call_id: callId, muted: !!muted, inbound, outbound, candidate_pair: pair };
}
