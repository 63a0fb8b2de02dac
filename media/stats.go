package media

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// StreamSnapshot describes one incoming RTP stream. It is JSON-able and
// feeds the stats page and the webhook quality block.
type StreamSnapshot struct {
	Packets      uint64    `json:"packets"`
	Bytes        uint64    `json:"bytes"`
	Lost         int64     `json:"lost"`      // RFC 3550 §6.4.1 cumulative lost (expected - received; negative with duplicates)
	JitterMs     float64   `json:"jitter_ms"` // RFC 3550 §6.4.1 interarrival jitter
	LastPacketAt time.Time `json:"last_packet_at"`
	LevelDBov    float64   `json:"level_dbov"` // RMS of the recent audio, dB below a full-scale square wave
	Silent       bool      `json:"silent"`     // LevelDBov below SilenceDBov
	Malformed    uint64    `json:"malformed"`  // packets rejected as garbage (the stream carried on)
	Discarded    uint64    `json:"discarded"`  // late or duplicate packets dropped
	PayloadType  uint8     `json:"payload_type"`
	SSRC         uint32    `json:"ssrc"`
}

const (
	// SilenceDBov is the level under which a stream counts as silent: well
	// above G.711's idle channel noise, well below quiet speech.
	SilenceDBov = -55.0
	// minDBov is reported for digital silence (JSON has no -Inf).
	minDBov = -127.0
)

// rtpStats counts an incoming stream: packets, loss from sequence numbers
// (RFC 3550 §A.3), interarrival jitter (RFC 3550 §A.8). It is an
// RTPHandler decorator so the pipeline code never touches metrics.
type rtpStats struct {
	next      RTPHandler
	clockRate int
	now       func() time.Time
	level     *levelMeter

	mu sync.Mutex
	// guarded by mu:
	packets, bytes uint64
	started        bool
	ssrc           uint32
	pt             uint8
	baseSeq        uint32 // extended seq of the first packet of this SSRC
	maxSeq         uint16
	cycles         uint32
	received       uint64 // packets of this SSRC
	lostBefore     int64  // loss accumulated on earlier SSRCs
	lastTransit    int64
	haveTransit    bool
	jitter         float64 // timestamp units
	epoch          time.Time
	lastAt         time.Time
	malformed      uint64
}

func (s *rtpStats) countMalformed() {
	s.mu.Lock()
	s.malformed++
	s.mu.Unlock()
}

func newRTPStats(clockRate int, now func() time.Time, level *levelMeter, next RTPHandler) *rtpStats {
	if now == nil {
		now = time.Now
	}
	return &rtpStats{next: next, clockRate: clockRate, now: now, level: level}
}

func (s *rtpStats) HandleRTP(h *rtp.Header, payload []byte) error {
	s.record(h, len(payload))
	return s.next.HandleRTP(h, payload)
}

func (s *rtpStats) record(h *rtp.Header, n int) {
	at := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packets++
	s.bytes += uint64(n)
	s.lastAt = at
	s.pt = h.PayloadType
	if !s.started || h.SSRC != s.ssrc {
		if s.started {
			s.lostBefore += s.lostLocked()
		}
		s.started, s.ssrc = true, h.SSRC
		s.baseSeq, s.maxSeq, s.cycles, s.received = uint32(h.SequenceNumber), h.SequenceNumber, 0, 0
		s.haveTransit, s.jitter = false, 0
		s.epoch = at
	}
	s.received++
	if d := h.SequenceNumber - s.maxSeq; d != 0 && d < 0x8000 {
		if d > 3000 { // restarted sender (RFC 3550 §A.1 MAX_DROPOUT)
			s.lostBefore += s.lostLocked()
			s.baseSeq, s.cycles, s.received = uint32(h.SequenceNumber), 0, 1
		} else if h.SequenceNumber < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = h.SequenceNumber
	}
	// RFC 3550 §A.8: transit time in timestamp units; J += (|D| - J)/16.
	arrival := int64(at.Sub(s.epoch)) * int64(s.clockRate) / int64(time.Second)
	transit := arrival - int64(h.Timestamp)
	if s.haveTransit {
		d := float64(transit - s.lastTransit)
		s.jitter += (math.Abs(d) - s.jitter) / 16
	}
	s.lastTransit, s.haveTransit = transit, true
}

func (s *rtpStats) lostLocked() int64 {
	if !s.started {
		return 0
	}
	expected := int64(s.cycles) + int64(s.maxSeq) - int64(s.baseSeq) + 1
	return expected - int64(s.received)
}

func (s *rtpStats) snapshot() StreamSnapshot {
	s.mu.Lock()
	snap := StreamSnapshot{
		Packets:      s.packets,
		Bytes:        s.bytes,
		Lost:         s.lostBefore + s.lostLocked(),
		JitterMs:     s.jitter * 1000 / float64(s.clockRate),
		LastPacketAt: s.lastAt,
		Malformed:    s.malformed,
		PayloadType:  s.pt,
		SSRC:         s.ssrc,
	}
	s.mu.Unlock()
	snap.LevelDBov = minDBov
	if s.level != nil {
		snap.LevelDBov = s.level.dbov()
	}
	snap.Silent = snap.LevelDBov < SilenceDBov
	return snap
}

func (s *rtpStats) String() string { return "RTPStats -> " + s.next.String() }

// levelMeter tracks the mean square of recent audio with a ~200 ms time
// constant. Written by the media goroutine, read by Stats: the value is one
// atomic word, so no lock is needed.
type levelMeter struct {
	rate int
	ms   atomic.Uint64 // float64 bits of the smoothed mean square, full scale = 1
}

func (l *levelMeter) write(pcm []int16) {
	if len(pcm) == 0 {
		return
	}
	var sum float64
	for _, x := range pcm {
		f := float64(x)
		sum += f * f
	}
	ms := sum / float64(len(pcm)) / (32768 * 32768)
	alpha := float64(len(pcm)) / (float64(len(pcm)) + float64(l.rate)/5)
	old := math.Float64frombits(l.ms.Load())
	l.ms.Store(math.Float64bits(old + alpha*(ms-old)))
}

func (l *levelMeter) dbov() float64 {
	ms := math.Float64frombits(l.ms.Load())
	if ms <= 0 {
		return minDBov
	}
	return max(minDBov, 10*math.Log10(ms))
}

// levelStage is the level meter as a PCM stage.
type levelStage struct {
	meter *levelMeter
	next  pcmStage
}

func (l *levelStage) WriteSamples(s []int16) error {
	l.meter.write(s)
	return l.next.WriteSamples(s)
}
func (l *levelStage) WriteGap(n int) error { return l.next.WriteGap(n) }
func (l *levelStage) SampleRate() int      { return l.next.SampleRate() }
func (l *levelStage) String() string       { return fmt.Sprintf("Level -> %s", l.next.String()) }
