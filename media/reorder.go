package media

import (
	"fmt"

	"github.com/pion/rtp"
)

// DefaultReorderWindow is how many packets the reorder stage holds while
// waiting for a missing one: 3 packets (60 ms at 20 ms ptime) of delay, and
// only while a packet is missing.
const DefaultReorderWindow = 3

const maxReorderWindow = 8

// reorder delivers packets in sequence-number order. In-order packets pass
// straight through (no added delay). A packet after a gap is held until the
// missing ones arrive or the window fills, then the held packets go out in
// order and the gap is left to the next stage (which sees it in the
// timestamps). Duplicates and packets older than the last delivered one
// are dropped and counted. A new SSRC restarts the stream (RFC 3550 §8.2).
//
// Not safe for concurrent use; the owning pipeline serialises calls.
type reorder struct {
	next    RTPHandler
	window  int
	started bool
	ssrc    uint32
	expect  uint16 // next sequence number to deliver
	held    int
	slots   [maxReorderWindow]heldPacket
	dropped uint64 // late or duplicate packets
	// heldErr receives errors of packets delivered after being held, so
	// HandleRTP only ever returns the error of the packet it was given.
	heldErr func(error)
}

type heldPacket struct {
	used bool
	hdr  rtp.Header // CSRC and extensions dropped: callers reuse them
	n    int
	buf  [maxPayloadSize]byte
}

func newReorder(window int, next RTPHandler, heldErr func(error)) *reorder {
	window = min(max(window, 1), maxReorderWindow)
	if heldErr == nil {
		heldErr = func(error) {}
	}
	return &reorder{next: next, window: window, heldErr: heldErr}
}

func (r *reorder) HandleRTP(h *rtp.Header, payload []byte) error {
	if !r.started || h.SSRC != r.ssrc {
		r.flush()
		r.started, r.ssrc, r.expect = true, h.SSRC, h.SequenceNumber
	}
	d := int16(h.SequenceNumber - r.expect)
	switch {
	case d == 0:
		return r.deliverNow(h, payload)
	case d < -100 || d > 1000:
		// A jump this large is a restarted sender, not reordering.
		r.flush()
		r.expect = h.SequenceNumber
		return r.deliverNow(h, payload)
	case d < 0:
		r.dropped++
		return nil
	}
	// d > 0: some packets are missing.
	for i := range r.slots[:r.window] {
		if s := &r.slots[i]; s.used && s.hdr.SequenceNumber == h.SequenceNumber {
			r.dropped++
			return nil
		}
	}
	if int(d) >= r.window {
		// Give up on the missing packets older than what still fits.
		r.skipTo(h.SequenceNumber - uint16(r.window) + 1)
	}
	if r.held == r.window && h.SequenceNumber != r.expect {
		// No room: give up on the oldest gap.
		m := r.minHeld()
		if int16(h.SequenceNumber-m) < 0 {
			m = h.SequenceNumber
		}
		r.expect = m
		r.drain()
	}
	if h.SequenceNumber == r.expect {
		return r.deliverNow(h, payload)
	}
	r.hold(h, payload)
	return nil
}

// deliverNow passes the current packet on, then whatever it unblocks.
func (r *reorder) deliverNow(h *rtp.Header, payload []byte) error {
	r.expect = h.SequenceNumber + 1
	err := r.next.HandleRTP(h, payload)
	r.drain()
	return err
}

func (r *reorder) hold(h *rtp.Header, payload []byte) {
	for i := range r.slots[:r.window] {
		s := &r.slots[i]
		if !s.used {
			s.used = true
			s.hdr = *h
			s.hdr.CSRC, s.hdr.Extensions = nil, nil
			s.n = copy(s.buf[:], payload)
			r.held++
			return
		}
	}
}

// drain delivers held packets that are now in order.
func (r *reorder) drain() {
	for r.held > 0 {
		i := r.find(r.expect)
		if i < 0 {
			return
		}
		r.deliver(i)
	}
}

// skipTo delivers every held packet before seq in order, treating missing
// ones as lost, and moves expect to at least seq.
func (r *reorder) skipTo(seq uint16) {
	for r.held > 0 && int16(seq-r.expect) > 0 {
		if i := r.find(r.expect); i >= 0 {
			r.deliver(i)
			continue
		}
		r.expect++
	}
	if int16(seq-r.expect) > 0 {
		r.expect = seq
	}
	r.drain()
}

// flush delivers everything held, in order.
func (r *reorder) flush() {
	for r.held > 0 {
		if i := r.find(r.expect); i >= 0 {
			r.deliver(i)
			continue
		}
		r.expect++
	}
}

func (r *reorder) minHeld() uint16 {
	var (
		m     uint16
		found bool
	)
	for i := range r.slots[:r.window] {
		if s := &r.slots[i]; s.used && (!found || int16(s.hdr.SequenceNumber-m) < 0) {
			m, found = s.hdr.SequenceNumber, true
		}
	}
	return m
}

func (r *reorder) find(seq uint16) int {
	for i := range r.slots[:r.window] {
		if s := &r.slots[i]; s.used && s.hdr.SequenceNumber == seq {
			return i
		}
	}
	return -1
}

func (r *reorder) deliver(i int) {
	s := &r.slots[i]
	s.used = false
	r.held--
	r.expect = s.hdr.SequenceNumber + 1
	if err := r.next.HandleRTP(&s.hdr, s.buf[:s.n]); err != nil {
		r.heldErr(err)
	}
}

func (r *reorder) String() string {
	return fmt.Sprintf("Reorder(%d) -> %s", r.window, r.next.String())
}
