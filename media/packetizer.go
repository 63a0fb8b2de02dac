package media

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
)

const (
	// MaxPayloadSize is the largest RTP payload a pipeline accepts: a
	// typical Ethernet MTU. Anything larger is garbage on a voice stream.
	MaxPayloadSize = maxPayloadSize
	maxPayloadSize = 1500
	// maxFrameSamples8k is 120 ms at 8 kHz, the longest Opus packet and the
	// longest ptime accepted.
	maxFrameSamples8k = 960
	// DefaultPtime is the packet time sent on both legs.
	DefaultPtime = 20 * time.Millisecond
)

// packetizer cuts a continuous G.711 byte stream into RTP packets of one
// ptime with our own SSRC, a random initial sequence number and timestamp
// (RFC 3550 §5.1), a timestamp that advances with the media clock across
// gaps, and the marker bit on the first packet of each talkspurt
// (RFC 3551 §4.1). It also sends RFC 4733 events in the same sequence
// number space when a dtmfSender is attached.
//
// Not safe for concurrent use; the owning pipeline serialises calls.
type packetizer struct {
	out     RTPHandler
	pt      uint8
	ssrc    uint32
	frame   int // samples (= bytes) per packet
	ptime   time.Duration
	silence byte
	seq     uint16
	ts      uint32 // timestamp of buf[0]
	n       int    // bytes buffered in buf
	marker  bool   // next packet starts a talkspurt
	buf     [maxFrameSamples8k]byte
	hdr     rtp.Header
	dtmf    *dtmfSender // nil when DTMF is not sent on this stream
}

func newPacketizer(kind g711Kind, pt uint8, ssrc uint32, ptime time.Duration, out RTPHandler) (*packetizer, error) {
	if out == nil {
		return nil, fmt.Errorf("%w: nil output handler", ErrInvalidConfig)
	}
	if ptime == 0 {
		ptime = DefaultPtime
	}
	if ptime < 10*time.Millisecond || ptime > 120*time.Millisecond || ptime%(10*time.Millisecond) != 0 {
		return nil, fmt.Errorf("%w: ptime %v (want a multiple of 10ms from 10ms to 120ms)", ErrInvalidConfig, ptime)
	}
	return &packetizer{
		out:     out,
		pt:      pt,
		ssrc:    ssrc,
		frame:   int(ptime / (time.Second / 8000)),
		ptime:   ptime,
		silence: kind.silence(),
		seq:     uint16(rand.Uint32()),
		ts:      rand.Uint32(),
		marker:  true,
	}, nil
}

func (p *packetizer) Write(b []byte, marker bool) error {
	if marker && p.n == 0 {
		p.marker = true
	}
	for len(b) > 0 {
		c := copy(p.buf[p.n:p.frame], b)
		p.n += c
		b = b[c:]
		if p.n == p.frame {
			if err := p.emit(); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteGap pads a partial packet with silence, advances the timestamp over
// the rest of the gap and marks the next packet as a talkspurt start.
func (p *packetizer) WriteGap(n int) error {
	var err error
	if p.n > 0 {
		pad := p.frame - p.n
		for i := p.n; i < p.frame; i++ {
			p.buf[i] = p.silence
		}
		p.n = p.frame
		err = p.emit()
		n = max(0, n-pad)
	}
	p.ts += uint32(n)
	p.marker = true
	return err
}

// emit sends buf as one packet, unless a DTMF event takes this frame's slot.
func (p *packetizer) emit() error {
	p.n = 0
	ts := p.ts
	p.ts += uint32(p.frame)
	if p.dtmf != nil {
		if handled, err := p.dtmf.tick(p, ts); handled {
			return err
		}
	}
	h := &p.hdr
	*h = rtp.Header{
		Version:        2,
		Marker:         p.marker,
		PayloadType:    p.pt,
		SequenceNumber: p.seq,
		Timestamp:      ts,
		SSRC:           p.ssrc,
	}
	p.seq++
	p.marker = false
	return p.out.HandleRTP(h, p.buf[:p.frame])
}

// send emits one non-audio packet (telephone-event) in our sequence space.
func (p *packetizer) send(pt uint8, ts uint32, marker bool, payload []byte) error {
	h := &p.hdr
	*h = rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    pt,
		SequenceNumber: p.seq,
		Timestamp:      ts,
		SSRC:           p.ssrc,
	}
	p.seq++
	return p.out.HandleRTP(h, payload)
}

func (p *packetizer) String() string {
	return fmt.Sprintf("Packetize(%v) -> %s", p.ptime, p.out.String())
}
