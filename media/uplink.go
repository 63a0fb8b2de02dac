package media

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// UplinkConfig configures the browser -> trunk direction.
type UplinkConfig struct {
	Codec Codec         // CodecPCMU or CodecPCMA (PayloadType may be a negotiated value)
	SSRC  uint32        // SSRC of the outgoing stream
	Ptime time.Duration // outgoing packet time, default 20ms (multiple of 10ms, 10-120ms)
	// ReorderWindow is how many packets to hold while one is missing;
	// default DefaultReorderWindow.
	ReorderWindow int
	// Now is the clock for jitter statistics; default time.Now.
	Now func() time.Time
	// OpusPayloadType, when not 0, is the browser's negotiated Opus payload
	// type; packets of other types (telephone-event from RTCDTMFSender,
	// comfort noise) are rejected with ErrUnexpectedPayloadType instead of
	// being decoded as Opus. 0 accepts every payload type.
	OpusPayloadType uint8
}

// Uplink takes the browser's Opus RTP (RFC 7587) and sends G.711 RTP toward
// the trunk, one packet per ptime:
//
//	RTPStats -> Reorder -> OpusDecode(8000) -> PLC -> Level -> PCMU -> Packetize(20ms) -> out
//
// HandleRTP, SendDTMF and Stats are safe for concurrent use.
type Uplink struct {
	mu sync.Mutex
	// guarded by mu: the whole chain below head, and dtmf.
	head   RTPHandler
	pkt    *packetizer
	dtmf   dtmfSender
	reord  *reorder
	dec    *opusDecoder
	enc    *g711Encoder
	noise  uint32 // comfort noise generator state
	filled bool   // comfort noise went out since the last browser packet

	stats  *rtpStats // own lock
	level  levelMeter
	opusPT uint8
}

// NewUplink builds the uplink pipeline writing to out.
func NewUplink(cfg UplinkConfig, out RTPHandler) (*Uplink, error) {
	kind, err := kindOf(cfg.Codec)
	if err != nil {
		return nil, err
	}
	u := &Uplink{level: levelMeter{rate: 8000}, opusPT: cfg.OpusPayloadType}
	u.pkt, err = newPacketizer(kind, cfg.Codec.PayloadType, cfg.SSRC, cfg.Ptime, out)
	if err != nil {
		return nil, err
	}
	u.pkt.dtmf = &u.dtmf
	enc := newG711Encoder(kind, u.pkt)
	lvl := &levelStage{meter: &u.level, next: enc}
	dec, err := newOpusDecoder(newPLC(lvl))
	if err != nil {
		return nil, err
	}
	if cfg.ReorderWindow == 0 {
		cfg.ReorderWindow = DefaultReorderWindow
	}
	u.dec, u.enc, u.noise = dec, enc, cfg.SSRC|1
	u.reord = newReorder(cfg.ReorderWindow, dec, u.countErr)
	u.stats = newRTPStats(opusClockRate, cfg.Now, &u.level, u.reord)
	u.head = u.stats
	return u, nil
}

// HandleRTP takes one Opus packet from the browser. A malformed packet
// returns an error wrapping one of the package's sentinels and is counted;
// the pipeline carries on with the next packet.
func (u *Uplink) HandleRTP(h *rtp.Header, payload []byte) error {
	if err := checkPacket(h, payload); err != nil {
		u.stats.countMalformed()
		return err
	}
	u.mu.Lock()
	if u.opusPT != 0 && h.PayloadType != u.opusPT {
		pt := u.opusPT
		u.mu.Unlock()
		u.stats.countMalformed()
		return fmt.Errorf("%w: %d (opus is %d)", ErrUnexpectedPayloadType, h.PayloadType, pt)
	}
	if u.filled {
		// Comfort noise covered the time since the last packet: this
		// packet starts a new talkspurt, not a loss to conceal.
		u.filled = false
		u.dec.restart()
		u.pkt.marker = true
	}
	err := u.head.HandleRTP(h, payload)
	u.mu.Unlock()
	u.countErr(err)
	return err
}

// comfortNoiseAmplitude is the peak of the comfort noise: about -70 dBov,
// audible as a live line, far below speech (RFC 3389 §3.1 suggests
// comfort noise at the level of the background it replaces).
const comfortNoiseAmplitude = 10

// ComfortNoise sends n samples (8 kHz) of low-level noise toward the trunk
// in the uplink's own SSRC, sequence number and timestamp space, while no
// browser feeds the uplink (a page reloading): the far end hears a live
// line, and its RTP stream goes on without a jump in sequence numbers or
// timestamps. The next browser packet starts a new talkspurt. Queued DTMF
// events are sent in the noise's place as they are in the audio's.
func (u *Uplink) ComfortNoise(n int) error {
	var buf [160]int16
	u.mu.Lock()
	defer u.mu.Unlock()
	u.filled = true
	for n > 0 {
		k := min(n, len(buf))
		for i := range buf[:k] {
			// xorshift32: cheap, and never all zeros (digital silence
			// makes some gateways assume the line is dead).
			x := u.noise
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			u.noise = x
			buf[i] = int16(int32(x%(2*comfortNoiseAmplitude+1)) - comfortNoiseAmplitude)
		}
		if err := u.enc.WriteSamples(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// SetOpusPayloadType changes the browser's negotiated Opus payload type:
// a new peer connection may number Opus differently from the last.
func (u *Uplink) SetOpusPayloadType(pt uint8) {
	u.mu.Lock()
	u.opusPT = pt
	u.mu.Unlock()
}

// countErr counts packets the decoder rejected, also those that were
// delivered late from the reorder buffer.
func (u *Uplink) countErr(err error) {
	if err != nil && (errors.Is(err, ErrMalformedOpus) || errors.Is(err, ErrDecoderPanic)) {
		u.stats.countMalformed()
	}
}

// SendDTMF queues one DTMF digit to be sent as RFC 4733 events with payload
// type pt, in the uplink's own SSRC and sequence space, in place of the
// audio of that time. dur is clamped to [MinDTMFDuration, MaxDTMFDuration]
// (0 means DefaultDTMFDuration). Events go out as audio frames are
// produced, so they need the browser's audio to be flowing (browsers send
// packets continuously, also when muted).
func (u *Uplink) SendDTMF(digit rune, dur time.Duration, pt uint8) error {
	ev, err := DTMFEvent(digit)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.dtmf.enqueue(ev, dur, pt)
}

// Stats describes what came in from the browser.
func (u *Uplink) Stats() StreamSnapshot {
	s := u.stats.snapshot()
	u.mu.Lock()
	s.Discarded = u.reord.dropped
	u.mu.Unlock()
	return s
}

// String prints the chain, e.g.
// "RTPStats -> Reorder(3) -> OpusDecode(8000) -> PLC(8000) -> Level -> PCMU -> Packetize(20ms) -> udp".
func (u *Uplink) String() string { return u.head.String() }

func checkPacket(h *rtp.Header, payload []byte) error {
	switch {
	case h == nil:
		return ErrNilPacket
	case len(payload) == 0:
		return ErrEmptyPayload
	case len(payload) > MaxPayloadSize:
		return fmt.Errorf("%w: %d bytes", ErrPayloadTooLarge, len(payload))
	}
	return nil
}
