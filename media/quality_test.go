package media_test

import (
	"math"
	"testing"

	"github.com/pion/opus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// uplinkPCM runs Opus packets through a PCMU uplink and returns the decoded
// G.711 output.
func uplinkPCM(t *testing.T, pkts [][]byte) []int16 {
	t.Helper()
	rec := &mediatest.RTPRecorder{}
	up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU}, rec)
	require.NoError(t, err)
	for i, p := range pkts {
		require.NoError(t, up.HandleRTP(opusHeader(i), p))
	}
	return rec.PCM(media.CodecPCMU)
}

// TestResampleQuality measures the whole uplink on 0.3 s tone steps coded
// as fullband CELT: passband 300–3400 Hz flat within ±0.5 dB, tones from
// 4.2 kHz to 20 kHz at least 60 dB down in the 8 kHz output (no aliasing).
func TestResampleQuality(t *testing.T) {
	pcm := uplinkPCM(t, mediatest.OpusPackets(t, mediatest.FixtureSteps))
	const step = 8000 * mediatest.StepMillis / 1000
	const inRMS = 0.5 / math.Sqrt2 // -6 dBFS sine
	var ref float64
	for i, f := range mediatest.StepTones {
		// The middle 60 % of each step, clear of transitions.
		seg := pcm[i*step+step/5 : (i+1)*step-step/5]
		if f <= 3400 {
			gain := mediatest.DBFS(mediatest.ToneAmplitude(seg, 8000, f) / 0.5)
			if i == 0 {
				ref = gain
			}
			t.Logf("%5.0f Hz: %+.2f dB", f, gain)
			assert.InDelta(t, 0, gain-ref, 0.5, "passband flatness at %v Hz", f)
			assert.InDelta(t, 0, gain, 0.5, "passband gain at %v Hz", f)
			continue
		}
		atten := mediatest.DBFS(mediatest.RMS(seg) / inRMS)
		t.Logf("%5.0f Hz: everything left in the 8 kHz output %.1f dB", f, atten)
		assert.LessOrEqual(t, atten, -60.0, "alias rejection at %v Hz", f)
	}
}

// TestResampleDelay measures the delay the uplink adds over a 48 kHz decode
// of the same packets, by cross-correlation at 8 kHz: at most 3 ms.
func TestResampleDelay(t *testing.T) {
	for _, fx := range []string{mediatest.FixtureSteps, mediatest.FixtureSilkNB} {
		t.Run(fx, func(t *testing.T) {
			pkts := mediatest.OpusPackets(t, fx)
			got := uplinkPCM(t, pkts)
			dec, err := opus.NewDecoderWithOutput(48000, 1)
			require.NoError(t, err)
			var ref []float64
			buf := make([]int16, 5760)
			for _, p := range pkts {
				n, err := dec.DecodeToInt16(p, buf)
				require.NoError(t, err)
				for i := 0; i < n; i += 6 { // 48k -> 8k by picking; fine for a lag estimate of in-band tones
					ref = append(ref, float64(buf[i]))
				}
			}
			n := min(len(ref), len(got), 8000*5/3) // the passband part of the steps
			bestLag, best := 0, math.Inf(-1)
			for lag := -16; lag <= 48; lag++ {
				var c float64
				for i := 400; i < n-64; i++ {
					if j := i + lag; j >= 0 && j < len(got) {
						c += ref[i] * float64(got[j])
					}
				}
				if c > best {
					best, bestLag = c, lag
				}
			}
			delayMs := float64(bestLag) / 8
			t.Logf("delay over a 48 kHz decode: %d samples (%.3f ms)", bestLag, delayMs)
			assert.LessOrEqual(t, delayMs, 3.0)
			assert.GreaterOrEqual(t, delayMs, -1.0)
		})
	}
}
