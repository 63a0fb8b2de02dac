package mediatest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

func TestToneAmplitude(t *testing.T) {
	tests := []struct {
		name      string
		tone, amp float64
		probe     float64
		wantLo    float64
		wantHi    float64
	}{
		{"on frequency", 1000, 0.5, 1000, 0.49, 0.51},
		{"full scale", 440, 1.0, 440, 0.98, 1.01},
		{"other frequency", 1000, 0.5, 1500, 0, 0.001},
		{"near frequency", 1000, 0.5, 1100, 0, 0.01},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mediatest.Sine(8000, 8000, tc.tone, tc.amp)
			got := mediatest.ToneAmplitude(s, 8000, tc.probe)
			assert.GreaterOrEqual(t, got, tc.wantLo)
			assert.LessOrEqual(t, got, tc.wantHi)
		})
	}
	assert.Zero(t, mediatest.ToneAmplitude(nil, 8000, 1000))
}

func TestDominantFreq(t *testing.T) {
	s := mediatest.Sine(4000, 8000, 1200, 0.3)
	hz, amp := mediatest.DominantFreq(s, 8000, 100, 3900, 100)
	assert.InDelta(t, 1200, hz, 1)
	assert.InDelta(t, 0.3, amp, 0.01)
}

func TestToneSource(t *testing.T) {
	for _, codec := range []media.Codec{media.CodecPCMU, media.CodecPCMA} {
		t.Run(codec.Name, func(t *testing.T) {
			src := mediatest.NewToneSource(codec, 1000, 0.5)
			var pcm []int16
			for range 50 {
				p := src.Next()
				require.Len(t, p, 160)
				pcm = mediatest.DecodeG711(pcm, codec, p)
			}
			assert.InDelta(t, 0.5, mediatest.ToneAmplitude(pcm, 8000, 1000), 0.02)
			assert.Less(t, mediatest.ToneAmplitude(pcm, 8000, 400), 0.01)
		})
	}
}

func TestOpusPackets(t *testing.T) {
	for _, name := range []string{mediatest.FixtureSilkNB, mediatest.FixtureSilkWB, mediatest.FixtureHybridFB, mediatest.FixtureCELT, mediatest.FixtureSteps} {
		t.Run(name, func(t *testing.T) {
			pkts := mediatest.OpusPackets(t, name)
			require.GreaterOrEqual(t, len(pkts), 100)
			for _, p := range pkts {
				require.NotEmpty(t, p)
			}
		})
	}
	_, err := mediatest.ReadOpusFile("testdata/none.opus")
	require.Error(t, err)
}
