package media

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seqRecorder records sequence numbers and copies of packets.
type seqRecorder struct {
	seqs []uint16
	hdrs []rtp.Header
	pays [][]byte
}

func (r *seqRecorder) HandleRTP(h *rtp.Header, p []byte) error {
	r.seqs = append(r.seqs, h.SequenceNumber)
	r.hdrs = append(r.hdrs, *h)
	r.pays = append(r.pays, append([]byte(nil), p...))
	return nil
}
func (r *seqRecorder) String() string { return "rec" }

func TestReorder(t *testing.T) {
	tests := []struct {
		name    string
		in      []uint16
		want    []uint16
		dropped uint64
	}{
		{"in order", []uint16{1, 2, 3, 4}, []uint16{1, 2, 3, 4}, 0},
		{"swap", []uint16{1, 3, 2, 4}, []uint16{1, 2, 3, 4}, 0},
		{"duplicate", []uint16{1, 2, 2, 3, 3}, []uint16{1, 2, 3}, 2},
		{"duplicate while held", []uint16{1, 3, 3, 2}, []uint16{1, 2, 3}, 1},
		{"loss", []uint16{1, 2, 4, 5, 6, 7}, []uint16{1, 2, 4, 5, 6, 7}, 0},
		{"late after giving up", []uint16{1, 2, 4, 5, 6, 3, 7}, []uint16{1, 2, 4, 5, 6, 7}, 1},
		{"wraparound", []uint16{65534, 0, 65535, 1}, []uint16{65534, 65535, 0, 1}, 0},
		{"window full then gap filler", []uint16{10, 12, 13, 11, 14}, []uint16{10, 11, 12, 13, 14}, 0},
		{"restart far ahead", []uint16{1, 2, 30000, 30001}, []uint16{1, 2, 30000, 30001}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &seqRecorder{}
			r := newReorder(3, rec, nil)
			for _, s := range tc.in {
				require.NoError(t, r.HandleRTP(&rtp.Header{SequenceNumber: s, SSRC: 1}, []byte{byte(s)}))
			}
			assert.Equal(t, tc.want, rec.seqs)
			assert.Equal(t, tc.dropped, r.dropped)
			for i, s := range rec.seqs {
				assert.Equal(t, []byte{byte(s)}, rec.pays[i], "payload travels with its header")
			}
		})
	}
}

// TestReorderNoDelayInOrder: an in-order packet is delivered by the call
// that brings it.
func TestReorderNoDelayInOrder(t *testing.T) {
	rec := &seqRecorder{}
	r := newReorder(3, rec, nil)
	for i := range 100 {
		require.NoError(t, r.HandleRTP(&rtp.Header{SequenceNumber: uint16(i), SSRC: 1}, []byte{1}))
		require.Len(t, rec.seqs, i+1)
	}
}

// TestReorderProperties feeds jittered, duplicated streams: output is
// strictly increasing, nothing is delivered twice, every packet is either
// delivered or counted, and with displacement below the window nothing is
// lost.
func TestReorderProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 50 + rng.IntN(100)
		seqs := make([]uint16, n)
		base := uint16(rng.Uint32())
		for i := range seqs {
			seqs[i] = base + uint16(i)
		}
		// Displace each packet by at most 2 places: sort by i + U[0, 2.5).
		keys := make([]float64, n)
		for i := range keys {
			keys[i] = float64(i)
			if i >= 3 { // the stream starts in order
				keys[i] += rng.Float64() * 2.5
			}
		}
		sort.Slice(seqs, func(a, b int) bool { return keys[uint16(seqs[a]-base)] < keys[uint16(seqs[b]-base)] })
		var in []uint16
		for _, s := range seqs {
			in = append(in, s)
			if rng.IntN(10) == 0 {
				in = append(in, s)
			}
		}
		rec := &seqRecorder{}
		r := newReorder(3, rec, nil)
		for _, s := range in {
			require.NoError(t, r.HandleRTP(&rtp.Header{SequenceNumber: s, SSRC: 9}, []byte{0}))
		}
		r.flush()
		for i := 1; i < len(rec.seqs); i++ {
			require.Greater(t, int16(rec.seqs[i]-rec.seqs[i-1]), int16(0), "trial %d", trial)
		}
		require.Equal(t, len(in), len(rec.seqs)+int(r.dropped), "trial %d", trial)
		require.Len(t, rec.seqs, n, "trial %d: displacement < window loses nothing", trial)
	}
}

// plcSink collects PCM and gaps.
type plcSink struct {
	pcm  []int16
	gaps []int
}

func (s *plcSink) WriteSamples(x []int16) error { s.pcm = append(s.pcm, x...); return nil }
func (s *plcSink) WriteGap(n int) error         { s.gaps = append(s.gaps, n); return nil }
func (s *plcSink) SampleRate() int              { return 8000 }
func (s *plcSink) String() string               { return "sink" }

func sine(n, start int, hz, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * 32767 * math.Sin(2*math.Pi*hz*float64(start+i)/8000)))
	}
	return out
}

func maxStep(x []int16) int {
	m := 0
	for i := 1; i < len(x); i++ {
		d := int(x[i]) - int(x[i-1])
		m = max(m, d, -d)
	}
	return m
}

// TestPLC conceals single and long losses of pure tones: the concealment
// keeps the tone, fades to silence by 60 ms, fills up to 200 ms, and never
// steps by more than the tone's own largest step (2·A·sin(π·f/8000)) plus
// 10 %: a click would be a step far larger than anything in the signal.
func TestPLC(t *testing.T) {
	for _, hz := range []float64{300, 440, 1000, 2500} {
		for _, lossMs := range []int{20, 40, 60, 100, 400} {
			t.Run(time.Duration(float64(time.Millisecond)*hz).String()+"/"+time.Duration(lossMs*int(time.Millisecond)).String(), func(t *testing.T) {
				const amp = 0.5
				sink := &plcSink{}
				p := newPLC(sink)
				pos := 0
				for range 10 { // 200 ms of tone
					require.NoError(t, p.WriteSamples(sine(160, pos, hz, amp)))
					pos += 160
				}
				lost := lossMs * 8
				require.NoError(t, p.WriteGap(lost))
				pos += lost
				for range 10 {
					require.NoError(t, p.WriteSamples(sine(160, pos, hz, amp)))
					pos += 160
				}
				natural := 2 * amp * 32767 * math.Sin(math.Pi*hz/8000)
				assert.LessOrEqual(t, float64(maxStep(sink.pcm)), natural*1.1+2, "no click")
				filled := min(lost, plcFillMax)
				assert.Len(t, sink.pcm, 3200+filled)
				if lost > plcFillMax {
					assert.Equal(t, []int{lost - plcFillMax}, sink.gaps)
				} else {
					assert.Empty(t, sink.gaps)
				}
				conceal := sink.pcm[1600 : 1600+min(lost, 80)]
				assert.InDelta(t, amp, toneAmp(conceal, hz), 0.1, "first 10 ms keep the tone")
				if lost > plcFadeEnd {
					quiet := sink.pcm[1600+plcFadeEnd : 1600+filled]
					assert.Equal(t, 0, maxAbs(quiet), "silent after 60 ms")
				}
			})
		}
	}
}

func maxAbs(x []int16) int {
	m := 0
	for _, v := range x {
		m = max(m, int(v), -int(v))
	}
	return m
}

// toneAmp is a plain DFT bin amplitude (mediatest cannot be imported here).
func toneAmp(x []int16, hz float64) float64 {
	var re, im float64
	for i, v := range x {
		a := 2 * math.Pi * hz * float64(i) / 8000
		re += float64(v) * math.Cos(a)
		im += float64(v) * math.Sin(a)
	}
	return 2 * math.Hypot(re, im) / float64(len(x)) / 32767
}

// TestDTMFSender checks the RFC 4733 packets: marker on the first, one
// timestamp for the whole event, growing durations, three end packets with
// the final duration, sequence numbers shared with audio, and no audio
// packet inside the event's time.
func TestDTMFSender(t *testing.T) {
	rec := &seqRecorder{}
	p, err := newPacketizer(kindUlaw, 0, 42, 0, rec)
	require.NoError(t, err)
	d := &dtmfSender{}
	p.dtmf = d
	silence := make([]byte, 160)
	require.NoError(t, p.Write(silence, false)) // one audio packet
	require.NoError(t, d.enqueue(5, 100*time.Millisecond, 101))
	require.NoError(t, d.enqueue(11, 0, 101))
	for range 30 {
		require.NoError(t, p.Write(silence, false))
	}
	var events []TelephoneEvent
	var evHdr []rtp.Header
	for i, h := range rec.hdrs {
		if i > 0 {
			assert.Equal(t, rec.hdrs[i-1].SequenceNumber+1, h.SequenceNumber, "one sequence space")
		}
		if h.PayloadType == 101 {
			ev, err := ParseTelephoneEvent(rec.pays[i])
			require.NoError(t, err)
			events = append(events, ev)
			evHdr = append(evHdr, h)
		}
	}
	// digit 5: 100 ms = 5 frames: 4 updates + 3 end packets.
	require.GreaterOrEqual(t, len(events), 7)
	first := evHdr[0]
	assert.True(t, first.Marker)
	assert.Equal(t, rec.hdrs[0].Timestamp+160, first.Timestamp, "event starts where the next audio frame would")
	for i := range 7 {
		assert.Equal(t, uint8(5), events[i].Event)
		assert.Equal(t, first.Timestamp, evHdr[i].Timestamp)
		assert.Equal(t, uint8(dtmfVolume), events[i].Volume)
		if i > 0 {
			assert.False(t, evHdr[i].Marker)
		}
	}
	for i := range 4 {
		assert.Equal(t, uint16(160*(i+1)), events[i].Duration)
		assert.False(t, events[i].End)
	}
	for i := 4; i < 7; i++ {
		assert.True(t, events[i].End)
		assert.Equal(t, uint16(800), events[i].Duration)
	}
	// Audio after the event resumes past its end, with the marker bit.
	var after *rtp.Header
	for i := range rec.hdrs {
		if rec.hdrs[i].PayloadType == 0 && rec.hdrs[i].Timestamp > first.Timestamp {
			after = &rec.hdrs[i]
			break
		}
	}
	require.NotNil(t, after)
	assert.True(t, after.Marker)
	assert.GreaterOrEqual(t, after.Timestamp, first.Timestamp+800)
	// The second digit (#, default 100 ms) follows after the pause.
	require.Len(t, events, 14)
	assert.Equal(t, uint8(11), events[7].Event)
	assert.True(t, evHdr[7].Marker)
	assert.GreaterOrEqual(t, evHdr[7].Timestamp, first.Timestamp+800+2*160)
}
