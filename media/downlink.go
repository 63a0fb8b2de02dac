package media

import (
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// DownlinkConfig configures the trunk -> browser direction.
type DownlinkConfig struct {
	In   Codec  // what the trunk sends
	Out  Codec  // what the browser accepted
	SSRC uint32 // SSRC of the outgoing stream
	// Ptime of the packets to the browser; default 20ms.
	Ptime time.Duration
	// ReorderWindow is how many packets to hold while one is missing;
	// default DefaultReorderWindow.
	ReorderWindow int
	// Now is the clock for jitter statistics; default time.Now.
	Now func() time.Time
}

// Downlink takes the trunk's G.711 RTP and sends G.711 RTP to the browser,
// repacketized to 20 ms; A-law and µ-law are converted only when the legs
// differ:
//
//	RTPStats -> Reorder(3) -> PCMA->PCMU -> Packetize(20ms) -> out
//
// HandleRTP and Stats are safe for concurrent use.
type Downlink struct {
	mu sync.Mutex
	// guarded by mu: the chain below stats and in.
	audio *reorder
	in    *g711Input
	cfg   DownlinkConfig

	stats *rtpStats // own lock
	level levelMeter
}

// NewDownlink builds the downlink pipeline writing to out.
func NewDownlink(cfg DownlinkConfig, out RTPHandler) (*Downlink, error) {
	inKind, err := kindOf(cfg.In)
	if err != nil {
		return nil, fmt.Errorf("downlink in: %w", err)
	}
	outKind, err := kindOf(cfg.Out)
	if err != nil {
		return nil, fmt.Errorf("downlink out: %w", err)
	}
	d := &Downlink{cfg: cfg, level: levelMeter{rate: 8000}}
	pkt, err := newPacketizer(outKind, cfg.Out.PayloadType, cfg.SSRC, cfg.Ptime, out)
	if err != nil {
		return nil, err
	}
	d.in = &g711Input{next: newG711Transcoder(inKind, outKind, &d.level, pkt)}
	if cfg.ReorderWindow == 0 {
		cfg.ReorderWindow = DefaultReorderWindow
	}
	d.audio = newReorder(cfg.ReorderWindow, d.in, nil)
	d.stats = newRTPStats(8000, cfg.Now, &d.level, d.audio)
	return d, nil
}

// HandleRTP takes one G.711 audio packet; a Demux in front splits off
// telephone-event and comfort noise. Another payload type returns an error
// wrapping ErrUnexpectedPayloadType and is counted; the stream carries on.
func (d *Downlink) HandleRTP(h *rtp.Header, payload []byte) error {
	if err := checkPacket(h, payload); err != nil {
		d.stats.countMalformed()
		return err
	}
	if h.PayloadType != d.cfg.In.PayloadType {
		d.stats.countMalformed()
		return fmt.Errorf("%w: %d", ErrUnexpectedPayloadType, h.PayloadType)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats.HandleRTP(h, payload)
}

// Stats describes what came in from the trunk.
func (d *Downlink) Stats() StreamSnapshot {
	s := d.stats.snapshot()
	d.mu.Lock()
	s.Discarded = d.audio.dropped
	d.mu.Unlock()
	return s
}

// String prints the chain, e.g. "RTPStats -> Reorder(3) -> PCMA->PCMU -> Packetize(20ms) -> out".
func (d *Downlink) String() string { return d.stats.String() }

// g711Input turns G.711 RTP into a byte stream, reporting gaps from the
// timestamps (RFC 3550 §5.1) so the packetizer keeps its own timestamps in
// step, and carrying the marker bit (start of talkspurt, RFC 3551 §4.1).
type g711Input struct {
	next    byteStage
	started bool
	nextTS  uint32
}

const maxG711Gap = 2 * 8000 // 2 s: a longer jump is a restart

func (g *g711Input) HandleRTP(h *rtp.Header, payload []byte) error {
	if g.started {
		gap := int32(h.Timestamp - g.nextTS)
		switch {
		case gap > 0 && gap <= maxG711Gap:
			if err := g.next.WriteGap(int(gap)); err != nil {
				return err
			}
		case gap < 0 && gap > -800:
			return nil // overlaps what was already sent
		case gap != 0:
			if err := g.next.WriteGap(0); err != nil {
				return err
			}
		}
	}
	g.started = true
	g.nextTS = h.Timestamp + uint32(len(payload))
	return g.next.Write(payload, h.Marker)
}

func (g *g711Input) String() string { return g.next.String() }
