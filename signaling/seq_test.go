package signaling

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
)

// A second call on the same peer connection continues the first one's
// sequence numbers and timestamps instead of jumping to its own random
// start (which the browser's SRTP would drop as a replay).
func TestSeqRewriterContinuesAcrossSources(t *testing.T) {
	var r seqRewriter
	t0 := time.Unix(1000, 0)
	var out []rtp.Header
	send := func(ssrc uint32, seq uint16, ts uint32, at time.Time) {
		h := rtp.Header{SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}
		r.rewrite(&h, at)
		out = append(out, h)
	}
	// Call 1: starts near the top of the sequence space.
	for i := 0; i < 3; i++ {
		send(1, 65534+uint16(i), 1000+uint32(i)*160, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
	// Call 2, 2 s later: a new source starting far "behind".
	for i := 0; i < 3; i++ {
		send(2, 100+uint16(i), 5_000_000+uint32(i)*160, t0.Add(2*time.Second+time.Duration(i)*20*time.Millisecond))
	}
	assert.True(t, out[0].Marker)
	for i := 1; i < len(out); i++ {
		assert.Equal(t, out[i-1].SequenceNumber+1, out[i].SequenceNumber, "packet %d", i)
		assert.Greater(t, out[i].Timestamp-out[i-1].Timestamp, uint32(0))
	}
	assert.True(t, out[3].Marker, "the new source starts a talkspurt")
	// The timestamp advanced by the 2 s gap (16000 samples at 8 kHz, less the 40 ms already counted).
	assert.InDelta(t, 16000-320, float64(out[3].Timestamp-out[2].Timestamp), 1)
	assert.Equal(t, uint32(160), out[4].Timestamp-out[3].Timestamp)
}
