package media_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// lossPattern returns which of n packets to drop.
type lossPattern func(rng *rand.Rand, n int) []bool

func randomLoss(p float64) lossPattern {
	return func(rng *rand.Rand, n int) []bool {
		drop := make([]bool, n)
		for i := range drop {
			drop[i] = rng.Float64() < p
		}
		return drop
	}
}

// burstyLoss is a Gilbert model: from "good" a loss burst starts with
// probability p; inside a burst each next packet is lost with probability q.
func burstyLoss(p, q float64) lossPattern {
	return func(rng *rand.Rand, n int) []bool {
		drop := make([]bool, n)
		bad := false
		for i := range drop {
			if bad {
				bad = rng.Float64() < q
			} else {
				bad = rng.Float64() < p
			}
			drop[i] = bad
		}
		return drop
	}
}

// TestUplinkLoss drops packets of a 10 s 440 Hz Opus stream and checks
// that concealment keeps the output continuous: continuous sequence numbers
// and timestamps, no click, and the tone's energy within a window.
//
// The click bound: a hard cut to silence (or a jump in the waveform) steps
// by up to the signal's peak, ~3.3x the largest step of the loss-free
// output for this tone. The bound is 1.6x: above what remains after a loss
// (the decoder restarts from reset state and can come back slightly louder
// for a few ms before the post-loss limiter settles; measured up to 1.57x at
// 5 % and 20 % random loss), below anything a cut or jump produces. The
// test asserts that the bound stays under the peak, so it can fail.
//
// The energy windows: each loss burst keeps full level for 10 ms, then
// fades; a reset decoder comes back quieter for a few frames; so energy
// falls with the loss rate and burst length. Measured (fraction of the
// loss-free tone): 1 %: 0.996, 5 %: 0.88, 20 %: 0.60, bursty 5 %: 0.95,
// bursty 20 %: 0.65; the windows leave a margin under those.
func TestUplinkLoss(t *testing.T) {
	pkts := mediatest.OpusPackets(t, mediatest.FixtureLong440)
	clean := uplinkPCM(t, pkts)
	cleanAmp := mediatest.ToneAmplitude(clean[1600:], 8000, 440)
	cleanStep := mediatest.MaxStep(clean)
	cleanPeak := 0
	for _, x := range clean[1600:] {
		cleanPeak = max(cleanPeak, int(x), -int(x))
	}
	clickBound := cleanStep * 16 / 10
	require.Less(t, clickBound, cleanPeak, "a hard cut at a peak must break the bound")

	tests := []struct {
		name    string
		pattern lossPattern
		minAmp  float64 // fraction of the loss-free tone amplitude
	}{
		{"random 1%", randomLoss(0.01), 0.95},
		{"random 5%", randomLoss(0.05), 0.80},
		{"random 20%", randomLoss(0.20), 0.50},
		{"bursty 5% (bursts ~3)", burstyLoss(0.02, 0.66), 0.85},
		{"bursty 20% (bursts ~5)", burstyLoss(0.05, 0.8), 0.55},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			drop := tc.pattern(rand.New(rand.NewPCG(7, 11)), len(pkts))
			rec := &mediatest.RTPRecorder{}
			up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU}, rec)
			require.NoError(t, err)
			lost := 0
			for i, p := range pkts {
				if drop[i] && i > 0 && i < len(pkts)-1 {
					lost++
					continue
				}
				require.NoError(t, up.HandleRTP(opusHeader(i), p))
			}
			out := rec.Packets()
			for i := 1; i < len(out); i++ {
				require.Equal(t, out[i-1].Header.SequenceNumber+1, out[i].Header.SequenceNumber)
				if d := out[i].Header.Timestamp - out[i-1].Header.Timestamp; d != 160 {
					// Only a burst longer than concealment + comfort silence
					// (200 ms) leaves a real gap, which starts a talkspurt.
					require.Greater(t, d, uint32(160))
					require.True(t, out[i].Header.Marker)
				}
			}
			pcm := rec.PCM(media.CodecPCMU)
			amp := mediatest.ToneAmplitude(pcm[1600:], 8000, 440)
			step := mediatest.MaxStep(pcm)
			t.Logf("lost %d/%d packets: tone %.3f of loss-free, max step %d (loss-free %d), %d packets out",
				lost, len(pkts), amp/cleanAmp, step, cleanStep, len(out))
			assert.GreaterOrEqual(t, amp/cleanAmp, tc.minAmp, "tone energy kept")
			assert.LessOrEqual(t, amp/cleanAmp, 1.05, "concealment adds no energy")
			assert.LessOrEqual(t, step, clickBound, "no click")
			assert.Equal(t, int64(lost), up.Stats().Lost)
		})
	}
}
