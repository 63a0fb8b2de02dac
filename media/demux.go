package media

import (
	"fmt"
	"sync/atomic"

	"github.com/pion/rtp"
)

// payloadTypeCN is RFC 3389 comfort noise (static type 13, RFC 3551 §6).
const payloadTypeCN uint8 = 13

// Demux splits one RTP stream by payload type (RFC 3551 §3): the
// negotiated audio codec to one handler, telephone-event (RFC 4733) to
// another, comfort noise (RFC 3389) dropped quietly, since the gap in
// timestamps before the next audio marks the new talkspurt. Anything else
// returns an error wrapping ErrUnexpectedPayloadType and is counted.
//
// The payload types and handlers may change while packets flow (a
// re-INVITE, a leg swapped): HandleRTP takes no lock.
type Demux struct {
	audio atomic.Pointer[route]
	dtmf  atomic.Pointer[route]

	comfortNoise, other atomic.Uint64
}

type route struct {
	pt uint8
	h  RTPHandler
}

// SetAudio routes payload type pt to h; a nil h drops audio.
func (d *Demux) SetAudio(pt uint8, h RTPHandler) { d.audio.Store(newRoute(pt, h)) }

// SetDTMF routes telephone-event payload type pt to h; pt 0 or a nil h
// means none was negotiated.
func (d *Demux) SetDTMF(pt uint8, h RTPHandler) {
	if pt == 0 {
		h = nil
	}
	d.dtmf.Store(newRoute(pt, h))
}

func newRoute(pt uint8, h RTPHandler) *route {
	if h == nil {
		return nil
	}
	return &route{pt: pt, h: h}
}

// HandleRTP passes one packet to the handler of its payload type.
func (d *Demux) HandleRTP(h *rtp.Header, payload []byte) error {
	if h == nil {
		return ErrNilPacket
	}
	if r := d.audio.Load(); r != nil && h.PayloadType == r.pt {
		return r.h.HandleRTP(h, payload)
	}
	if r := d.dtmf.Load(); r != nil && h.PayloadType == r.pt {
		return r.h.HandleRTP(h, payload)
	}
	if h.PayloadType == payloadTypeCN {
		d.comfortNoise.Add(1)
		return nil
	}
	d.other.Add(1)
	return fmt.Errorf("%w: %d", ErrUnexpectedPayloadType, h.PayloadType)
}

// Counts returns the comfort-noise packets dropped and the packets of
// other payload types refused.
func (d *Demux) Counts() (comfortNoise, other uint64) {
	return d.comfortNoise.Load(), d.other.Load()
}

// String prints the audio chain.
func (d *Demux) String() string {
	if r := d.audio.Load(); r != nil {
		return fmt.Sprintf("Demux(%d) -> %s", r.pt, r.h.String())
	}
	return "Demux -> none"
}
