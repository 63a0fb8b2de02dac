package media_test

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// opusHeader returns the RTP header of the i-th 20 ms Opus packet.
func opusHeader(i int) *rtp.Header {
	return &rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(1000 + i), Timestamp: uint32(5000 + 960*i), SSRC: 0xB0B0}
}

func TestUplinkTone(t *testing.T) {
	fixtures := []string{mediatest.FixtureSilkNB, mediatest.FixtureSilkWB, mediatest.FixtureHybridFB, mediatest.FixtureCELT}
	for _, codec := range []media.Codec{media.CodecPCMU, media.CodecPCMA} {
		for _, fx := range fixtures {
			t.Run(codec.Name+"/"+fx, func(t *testing.T) {
				rec := &mediatest.RTPRecorder{}
				up, err := media.NewUplink(media.UplinkConfig{Codec: codec, SSRC: 0x1234}, rec)
				require.NoError(t, err)
				pkts := mediatest.OpusPackets(t, fx)
				for i, p := range pkts {
					require.NoError(t, up.HandleRTP(opusHeader(i), p))
				}
				out := rec.Packets()
				require.Len(t, out, len(pkts), "one G.711 packet per 20 ms Opus packet")
				for i, p := range out {
					assert.Len(t, p.Payload, 160)
					assert.Equal(t, codec.PayloadType, p.Header.PayloadType)
					assert.Equal(t, uint32(0x1234), p.Header.SSRC)
					if i > 0 {
						assert.Equal(t, out[i-1].Header.SequenceNumber+1, p.Header.SequenceNumber)
						assert.Equal(t, out[i-1].Header.Timestamp+160, p.Header.Timestamp)
						assert.False(t, p.Header.Marker)
					}
				}
				assert.True(t, out[0].Header.Marker, "marker on the first packet")
				pcm := rec.PCM(codec)
				warm := pcm[8000/5:] // skip 200 ms of encoder/decoder warm-up
				amp := mediatest.ToneAmplitude(warm, 8000, 1000)
				assert.InDelta(t, 0.5, amp, 0.1, "1 kHz at -6 dBFS")
				assert.Less(t, mediatest.ToneAmplitude(warm, 8000, 2000), 0.02)
				st := up.Stats()
				assert.Equal(t, uint64(len(pkts)), st.Packets)
				assert.Zero(t, st.Lost)
				assert.InDelta(t, -9, st.LevelDBov, 2, "a -6 dBFS sine has an RMS of -9 dBov")
				assert.False(t, st.Silent)
			})
		}
	}
}

func TestUplinkPayloadTypeFilter(t *testing.T) {
	rec := &mediatest.RTPRecorder{}
	up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU, OpusPayloadType: 111}, rec)
	require.NoError(t, err)
	pkts := mediatest.OpusPackets(t, mediatest.FixtureSilkNB)
	require.NoError(t, up.HandleRTP(opusHeader(0), pkts[0]))
	h := opusHeader(1)
	h.PayloadType = 126 // telephone-event from RTCDTMFSender
	require.ErrorIs(t, up.HandleRTP(h, []byte{1, 0x8a, 0, 160}), media.ErrUnexpectedPayloadType)
	require.NoError(t, up.HandleRTP(opusHeader(1), pkts[1]))
	assert.Len(t, rec.Packets(), 2)
	assert.Equal(t, uint64(1), up.Stats().Malformed)
}
