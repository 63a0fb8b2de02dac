package media_test

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// g711Stream sends secs of a tone in packets of ptime to h.
func g711Stream(t *testing.T, h media.RTPHandler, codec media.Codec, ptime time.Duration, hz float64, secs float64) {
	t.Helper()
	n := int(ptime / (time.Second / 8000))
	pcm := mediatest.Sine(int(secs*8000), 8000, hz, 0.5)
	for i := 0; i+n <= len(pcm); i += n {
		hdr := &rtp.Header{Version: 2, PayloadType: codec.PayloadType, SequenceNumber: uint16(60000 + i/n), Timestamp: uint32(4e9) + uint32(i), SSRC: 0xCAFE}
		require.NoError(t, h.HandleRTP(hdr, mediatest.EncodeG711(codec, pcm[i:i+n])))
	}
}

func TestDownlinkTone(t *testing.T) {
	codecs := []media.Codec{media.CodecPCMU, media.CodecPCMA}
	for _, in := range codecs {
		for _, out := range codecs {
			for _, ptime := range []time.Duration{10, 20, 30, 40} {
				ptime *= time.Millisecond
				t.Run(in.Name+"->"+out.Name+"/"+ptime.String(), func(t *testing.T) {
					rec := &mediatest.RTPRecorder{}
					d, err := media.NewDownlink(media.DownlinkConfig{In: in, Out: out, SSRC: 77}, rec)
					require.NoError(t, err)
					g711Stream(t, d, in, ptime, 1000, 1.2)
					pkts := rec.Packets()
					require.Len(t, pkts, 60, "1.2 s in 20 ms packets")
					for i, p := range pkts {
						require.Len(t, p.Payload, 160)
						assert.Equal(t, out.PayloadType, p.Header.PayloadType)
						assert.Equal(t, uint32(77), p.Header.SSRC)
						if i > 0 {
							assert.Equal(t, pkts[i-1].Header.SequenceNumber+1, p.Header.SequenceNumber)
							assert.Equal(t, pkts[i-1].Header.Timestamp+160, p.Header.Timestamp)
						}
					}
					pcm := rec.PCM(out)
					assert.InDelta(t, 0.5, mediatest.ToneAmplitude(pcm, 8000, 1000), 0.02)
					assert.Less(t, mediatest.ToneAmplitude(pcm, 8000, 1500), 0.005)
					st := d.Stats()
					assert.Equal(t, uint64(1200*time.Millisecond/ptime), st.Packets)
					assert.Equal(t, in.PayloadType, st.PayloadType)
					assert.Equal(t, uint32(0xCAFE), st.SSRC)
					assert.InDelta(t, -9, st.LevelDBov, 1)
				})
			}
		}
	}
}

func TestGarbageNeverPanics(t *testing.T) {
	garbage := [][]byte{
		{0xff}, {0xff, 0xff, 0xff}, {0x03}, {0x0b, 0xff}, {0xfb, 0x00, 0x00},
		make([]byte, 1500),
	}
	for i := range garbage[len(garbage)-1] {
		garbage[len(garbage)-1][i] = byte(i * 131)
	}
	up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU}, &mediatest.RTPRecorder{})
	require.NoError(t, err)
	seq := 0
	for _, g := range garbage {
		_ = up.HandleRTP(opusHeader(seq), g) // an error or a decoded frame, never a panic
		seq++
	}
	require.ErrorIs(t, up.HandleRTP(opusHeader(seq), nil), media.ErrEmptyPayload)
	require.ErrorIs(t, up.HandleRTP(opusHeader(seq), make([]byte, 1501)), media.ErrPayloadTooLarge)
	require.ErrorIs(t, up.HandleRTP(nil, []byte{1}), media.ErrNilPacket)
	// The pipeline still works afterwards.
	for i, p := range mediatest.OpusPackets(t, mediatest.FixtureSilkNB)[:10] {
		require.NoError(t, up.HandleRTP(opusHeader(seq+1+i), p))
	}
	assert.GreaterOrEqual(t, up.Stats().Malformed, uint64(3))

	d, err := media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMU, Out: media.CodecPCMU}, &mediatest.RTPRecorder{})
	require.NoError(t, err)
	require.ErrorIs(t, d.HandleRTP(&rtp.Header{PayloadType: 99}, []byte{1, 2}), media.ErrUnexpectedPayloadType)
	assert.Equal(t, uint64(1), d.Stats().Malformed)

	var demux media.Demux
	demux.SetAudio(0, d)
	demux.SetDTMF(101, media.NewDTMFReceiver(8000, func(rune, time.Duration) {}))
	require.ErrorIs(t, demux.HandleRTP(&rtp.Header{PayloadType: 99}, []byte{1, 2}), media.ErrUnexpectedPayloadType)
	require.ErrorIs(t, demux.HandleRTP(&rtp.Header{PayloadType: 101}, []byte{1, 2}), media.ErrMalformedDTMF)
	require.NoError(t, demux.HandleRTP(&rtp.Header{PayloadType: 13}, []byte{40}))
	cn, other := demux.Counts()
	assert.Equal(t, uint64(1), cn)
	assert.Equal(t, uint64(1), other)
}

func TestConfigErrors(t *testing.T) {
	rec := &mediatest.RTPRecorder{}
	_, err := media.NewUplink(media.UplinkConfig{Codec: media.Codec{Name: "G729", ClockRate: 8000, PayloadType: 18}}, rec)
	require.ErrorIs(t, err, media.ErrUnsupportedCodec)
	_, err = media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU, Ptime: 25 * time.Millisecond}, rec)
	require.ErrorIs(t, err, media.ErrInvalidConfig)
	_, err = media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU}, nil)
	require.ErrorIs(t, err, media.ErrInvalidConfig)
	_, err = media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMU, Out: media.Codec{Name: "opus", ClockRate: 48000, PayloadType: 111}}, rec)
	require.ErrorIs(t, err, media.ErrUnsupportedCodec)
}
