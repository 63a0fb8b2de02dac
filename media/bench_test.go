package media_test

import (
	"testing"

	"github.com/pion/opus"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// benchFixtures are the Opus modes of the benchmarks, by name.
var benchFixtures = []struct{ name, file string }{
	{"SILK-NB", mediatest.FixtureSilkNB},
	{"SILK-WB", mediatest.FixtureSilkWB},
	{"Hybrid-FB", mediatest.FixtureHybridFB},
	{"CELT-FB", mediatest.FixtureCELT},
}

// discard is an RTPHandler that drops packets.
type discard struct{}

func (discard) HandleRTP(*rtp.Header, []byte) error { return nil }
func (discard) String() string                      { return "discard" }

// BenchmarkPionDecode is pion/opus alone, at the rate the uplink decodes
// each mode (8 kHz narrowband, 16 kHz wider): the baseline the uplink's
// own cost is compared with.
func BenchmarkPionDecode(b *testing.B) {
	for _, fx := range benchFixtures {
		pkts := mediatest.OpusPackets(b, fx.file)
		rate := 16000
		if fx.name == "SILK-NB" {
			rate = 8000
		}
		b.Run(fx.name, func(b *testing.B) {
			dec, err := opus.NewDecoderWithOutput(rate, 1)
			require.NoError(b, err)
			pcm := make([]int16, 1920)
			media.LoopCPU(b, func(i int) {
				if _, err := dec.DecodeToInt16(pkts[i%len(pkts)], pcm); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkUplink is the whole uplink per 20 ms packet: stats, reorder,
// decode, resample, PLC, level, G.711, packetize.
func BenchmarkUplink(b *testing.B) {
	for _, fx := range benchFixtures {
		pkts := mediatest.OpusPackets(b, fx.file)
		b.Run(fx.name, func(b *testing.B) {
			up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU}, discard{})
			require.NoError(b, err)
			h := rtp.Header{Version: 2, PayloadType: 111, SSRC: 1}
			media.LoopCPU(b, func(i int) {
				h.SequenceNumber++
				h.Timestamp += 960
				if err := up.HandleRTP(&h, pkts[i%len(pkts)]); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDownlink is the whole downlink per 20 ms packet.
func BenchmarkDownlink(b *testing.B) {
	for _, tc := range []struct {
		name    string
		in, out media.Codec
	}{
		{"PCMU-PCMU", media.CodecPCMU, media.CodecPCMU},
		{"PCMA-PCMU", media.CodecPCMA, media.CodecPCMU},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := media.NewDownlink(media.DownlinkConfig{In: tc.in, Out: tc.out}, discard{})
			require.NoError(b, err)
			payload := append([]byte(nil), mediatest.NewToneSource(tc.in, 1000, 0.5).Next()...)
			h := rtp.Header{Version: 2, PayloadType: tc.in.PayloadType, SSRC: 1}
			media.LoopCPU(b, func(int) {
				h.SequenceNumber++
				h.Timestamp += 160
				if err := d.HandleRTP(&h, payload); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// TestZeroAllocs guards the per-packet paths at 0 allocations in steady
// state, both directions, including reordered packets. A loss event on the
// uplink resets the Opus decoder (see opusDecoder.afterLoss), and pion's
// Init allocates its SILK state afresh: that cost is per loss, not per
// packet, and is bounded here.
func TestZeroAllocs(t *testing.T) {
	for _, fx := range benchFixtures {
		t.Run("uplink "+fx.name, func(t *testing.T) {
			pkts := mediatest.OpusPackets(t, fx.file)
			up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMA}, discard{})
			require.NoError(t, err)
			h := rtp.Header{Version: 2, PayloadType: 111, SSRC: 1}
			i := 0
			send := func(k int) {
				h.SequenceNumber = uint16(k)
				h.Timestamp = uint32(960 * k)
				_ = up.HandleRTP(&h, pkts[k%len(pkts)])
			}
			for range 50 {
				i++
				send(i)
			}
			steady := testing.AllocsPerRun(200, func() {
				i += 2
				if i%10 == 0 { // a reordered pair
					send(i)
					send(i - 1)
					return
				}
				send(i - 1)
				send(i)
			})
			assert.Zero(t, steady, "steady state")
			perLoss := testing.AllocsPerRun(20, func() {
				i += 2 // one packet lost
				send(i)
				for range 5 {
					i++
					send(i)
				}
			})
			t.Logf("allocations per loss event: %v", perLoss)
			assert.LessOrEqual(t, perLoss, 64.0, "per loss event")
		})
	}
	t.Run("downlink", func(t *testing.T) {
		d, err := media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMA, Out: media.CodecPCMU}, discard{})
		require.NoError(t, err)
		payload := append([]byte(nil), mediatest.NewToneSource(media.CodecPCMA, 1000, 0.5).Next()...)
		h := rtp.Header{Version: 2, PayloadType: 8, SSRC: 1}
		i := 0
		allocs := testing.AllocsPerRun(500, func() {
			i++
			h.SequenceNumber = uint16(i)
			h.Timestamp = uint32(160 * i)
			if i%13 == 0 { // reordered pair
				h.SequenceNumber++
				h.Timestamp += 160
				_ = d.HandleRTP(&h, payload)
				h.SequenceNumber--
				h.Timestamp -= 160
				_ = d.HandleRTP(&h, payload)
				i++
				return
			}
			_ = d.HandleRTP(&h, payload)
		})
		assert.Zero(t, allocs)
	})
}
