package media_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

type g711Pkt struct {
	seq    uint16
	ts     uint32
	ssrc   uint32
	marker bool
	n      int // samples
}

// TestDownlinkStream checks the outgoing headers for trunk streams with
// gaps, reordering, SSRC changes and talkspurts.
func TestDownlinkStream(t *testing.T) {
	seqRun := func(ssrc uint32, seq0 uint16, ts0 uint32, count int) []g711Pkt {
		var out []g711Pkt
		for i := range count {
			out = append(out, g711Pkt{seq: seq0 + uint16(i), ts: ts0 + uint32(160*i), ssrc: ssrc, n: 160})
		}
		return out
	}
	tests := []struct {
		name    string
		in      []g711Pkt
		packets int
		gaps    map[int]uint32 // output index -> timestamp step before it (default 160)
		markers []int          // output indexes with the marker bit
		ssrc    uint32         // stats SSRC at the end
		lost    int64
	}{
		{
			name:    "steady",
			in:      seqRun(1, 100, 1000, 10),
			packets: 10, markers: []int{0}, ssrc: 1,
		},
		{
			name:    "one lost packet",
			in:      append(seqRun(1, 100, 1000, 5), seqRun(1, 106, 1000+160*6, 4)...),
			packets: 9, gaps: map[int]uint32{5: 320}, markers: []int{0, 5}, ssrc: 1, lost: 1,
		},
		{
			name: "swapped packets",
			in: func() []g711Pkt {
				s := seqRun(1, 100, 1000, 8)
				s[3], s[4] = s[4], s[3]
				return s
			}(),
			packets: 8, markers: []int{0}, ssrc: 1,
		},
		{
			name:    "SSRC change",
			in:      append(seqRun(1, 100, 1000, 5), seqRun(2, 7, 999999, 5)...),
			packets: 10, markers: []int{0, 5}, ssrc: 2,
		},
		{
			name: "talkspurt after silence",
			in: func() []g711Pkt {
				s := append(seqRun(1, 100, 1000, 3), seqRun(1, 103, 1000+160*3+8000, 3)...)
				s[3].marker = true
				return s
			}(),
			packets: 6, gaps: map[int]uint32{3: 160 + 8000}, markers: []int{0, 3}, ssrc: 1,
		},
		{
			name: "10 ms carrier packets",
			in: func() []g711Pkt {
				s := seqRun(1, 5, 0, 10)
				for i := range s {
					s[i].ts, s[i].n = uint32(80*i), 80
				}
				return s
			}(),
			packets: 5, markers: []int{0}, ssrc: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &mediatest.RTPRecorder{}
			d, err := media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMU, Out: media.CodecPCMU, SSRC: 5}, rec)
			require.NoError(t, err)
			for _, p := range tc.in {
				payload := mediatest.EncodeG711(media.CodecPCMU, mediatest.Sine(p.n, 8000, 500, 0.3))
				h := &rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc, Marker: p.marker}
				require.NoError(t, d.HandleRTP(h, payload))
			}
			out := rec.Packets()
			require.Len(t, out, tc.packets)
			var markers []int
			for i, p := range out {
				assert.Equal(t, uint32(5), p.Header.SSRC)
				if p.Header.Marker {
					markers = append(markers, i)
				}
				if i == 0 {
					continue
				}
				assert.Equal(t, out[i-1].Header.SequenceNumber+1, p.Header.SequenceNumber, "seq continuous at %d", i)
				step, ok := tc.gaps[i]
				if !ok {
					step = 160
				}
				assert.Equal(t, step, p.Header.Timestamp-out[i-1].Header.Timestamp, "timestamp step at %d", i)
			}
			assert.Equal(t, tc.markers, markers)
			st := d.Stats()
			assert.Equal(t, tc.ssrc, st.SSRC)
			assert.Equal(t, tc.lost, st.Lost)
		})
	}
}

func TestDTMFReceiver(t *testing.T) {
	type ev struct {
		ts     uint32
		event  uint8
		end    bool
		dur    uint16
		marker bool
	}
	tests := []struct {
		name string
		in   []ev
		want string
		durs []time.Duration
	}{
		{"normal", []ev{{100, 1, false, 160, true}, {100, 1, false, 320, false}, {100, 1, true, 800, false}, {100, 1, true, 800, false}, {100, 1, true, 800, false}}, "1", []time.Duration{100 * time.Millisecond}},
		{"no marker", []ev{{100, 11, false, 160, false}, {100, 11, true, 400, false}}, "#", []time.Duration{50 * time.Millisecond}},
		{"end packets lost", []ev{{100, 5, false, 160, true}, {100, 5, false, 480, false}, {2000, 6, false, 160, true}, {2000, 6, true, 400, false}}, "56", []time.Duration{60 * time.Millisecond, 50 * time.Millisecond}},
		{"same digit twice", []ev{{100, 7, true, 400, true}, {100, 7, true, 400, false}, {900, 7, true, 400, true}}, "77", nil},
		{"only end packets", []ev{{100, 15, true, 800, false}, {100, 15, true, 800, false}}, "D", nil},
		{"non-DTMF event ignored", []ev{{100, 16, true, 800, true}, {300, 10, true, 800, true}}, "*", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			var durs []time.Duration
			r := media.NewDTMFReceiver(8000, func(d rune, dur time.Duration) {
				got += string(d)
				durs = append(durs, dur)
			})
			for i, e := range tc.in {
				b := media.TelephoneEvent{Event: e.event, End: e.end, Volume: 10, Duration: e.dur}.Marshal(make([]byte, 4))
				require.NoError(t, r.HandleRTP(&rtp.Header{SequenceNumber: uint16(i), Timestamp: e.ts, Marker: e.marker}, b))
			}
			assert.Equal(t, tc.want, got)
			if tc.durs != nil {
				assert.Equal(t, tc.durs, durs)
			}
		})
	}
	r := media.NewDTMFReceiver(8000, nil)
	require.ErrorIs(t, r.HandleRTP(&rtp.Header{}, []byte{1, 2, 3}), media.ErrMalformedDTMF)
	require.ErrorIs(t, r.HandleRTP(nil, []byte{1, 2, 3, 4}), media.ErrNilPacket)
}

// TestDTMFRoundTrip sends digits on the uplink and decodes them from the
// produced RTP as the trunk would, through a downlink configured for
// telephone-event.
func TestDTMFRoundTrip(t *testing.T) {
	rec := &mediatest.RTPRecorder{}
	up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMA}, rec)
	require.NoError(t, err)
	for _, d := range "12*#AD" {
		require.NoError(t, up.SendDTMF(d, 80*time.Millisecond, 101))
	}
	require.ErrorIs(t, up.SendDTMF('x', 0, 101), media.ErrInvalidDigit)
	pkts := mediatest.OpusPackets(t, mediatest.FixtureLong440)
	for i, p := range pkts[:100] {
		require.NoError(t, up.HandleRTP(opusHeader(i), p))
	}
	var got []rune
	var durs []time.Duration
	audio, err := media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMA, Out: media.CodecPCMU}, &mediatest.RTPRecorder{})
	require.NoError(t, err)
	var down media.Demux
	down.SetAudio(media.CodecPCMA.PayloadType, audio)
	down.SetDTMF(101, media.NewDTMFReceiver(8000, func(d rune, dur time.Duration) { got = append(got, d); durs = append(durs, dur) }))
	out := rec.Packets()
	for i, p := range out {
		if i > 0 {
			require.Equal(t, out[i-1].Header.SequenceNumber+1, p.Header.SequenceNumber)
		}
		require.NoError(t, down.HandleRTP(&p.Header, p.Payload))
	}
	assert.Equal(t, "12*#AD", string(got))
	for _, d := range durs {
		assert.Equal(t, 80*time.Millisecond, d)
	}
}

// TestConcurrentUse runs media, DTMF and stats calls from several
// goroutines (meaningful under -race) and leaves no goroutine behind.
func TestConcurrentUse(t *testing.T) {
	defer goleak.VerifyNone(t)
	up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU}, &mediatest.RTPRecorder{})
	require.NoError(t, err)
	down, err := media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMU, Out: media.CodecPCMU}, &mediatest.RTPRecorder{})
	require.NoError(t, err)
	pkts := mediatest.OpusPackets(t, mediatest.FixtureSilkNB)
	src := mediatest.NewToneSource(media.CodecPCMU, 1000, 0.5)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, p := range pkts {
			assert.NoError(t, up.HandleRTP(opusHeader(i), p))
		}
	})
	wg.Go(func() {
		for i := range 100 {
			assert.NoError(t, down.HandleRTP(&rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(160 * i), SSRC: 3}, src.Next()))
		}
	})
	wg.Go(func() {
		for range 100 {
			_ = up.Stats()
			_ = down.Stats()
			_ = up.SendDTMF('5', 0, 101)
		}
	})
	wg.Wait()
	assert.Equal(t, uint64(len(pkts)), up.Stats().Packets)
	assert.Equal(t, uint64(100), down.Stats().Packets)
}
