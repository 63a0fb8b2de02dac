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
}

type heldPacket struct {
	used bool
	hdr  rtp.Header // CSRC and extensions dropped: callers reuse them
	n    int
	buf  [maxPayloadSize]byte
}

func newReorder(window int, next RTPHandler) *reorder {
	window = min(max(window, 1), maxReorderWindow)
	return &reorder{next: next, window: window}
}

func (r *reorder) HandleRTP(h *rtp.Header, payload []byte) error {
	if !r.started || h.SSRC != r.ssrc {
		if err := r.flush(); err != nil {
			return err
		}
		r.started, r.ssrc, r.expect = true, h.SSRC, h.SequenceNumber
	}
	d := int16(h.SequenceNumber - r.expect)
	switch {
	case d == 0:
		r.expect++
		if err := r.next.HandleRTP(h, payload); err != nil {
			return err
		}
		return r.drain()
	case d < -100 || d > 1000:
		// A jump this large is a restarted sender, not reordering.
		if err := r.flush(); err != nil {
			return err
		}
		r.expect = h.SequenceNumber + 1
		return r.next.HandleRTP(h, payload)
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
		if err := r.skipTo(h.SequenceNumber - uint16(r.window) + 1); err != nil {
			return err
		}
	}
	if r.held == r.window && h.SequenceNumber != r.expect {
		// No room: give up on the oldest gap.
		m := r.minHeld()
		if int16(h.SequenceNumber-m) < 0 {
			m = h.SequenceNumber
		}
		r.expect = m
		if err := r.drain(); err != nil {
			return err
		}
	}
	if h.SequenceNumber == r.expect {
		r.expect++
		if err := r.next.HandleRTP(h, payload); err != nil {
			return err
		}
		return r.drain()
	}
	r.hold(h, payload)
	return nil
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
func (r *reorder) drain() error {
	for r.held > 0 {
		i := r.find(r.expect)
		if i < 0 {
			return nil
		}
		if err := r.deliver(i); err != nil {
			return err
		}
	}
	return nil
}

// skipTo delivers every held packet before seq in order, treating missing
// ones as lost, and moves expect to at least seq.
func (r *reorder) skipTo(seq uint16) error {
	for r.held > 0 && int16(seq-r.expect) > 0 {
		if i := r.find(r.expect); i >= 0 {
			if err := r.deliver(i); err != nil {
				return err
			}
			continue
		}
		r.expect++
	}
	if int16(seq-r.expect) > 0 {
		r.expect = seq
	}
	return r.drain()
}

// flush delivers everything held, in order.
func (r *reorder) flush() error {
	for r.held > 0 {
		if i := r.find(r.expect); i >= 0 {
			if err := r.deliver(i); err != nil {
				return err
			}
			continue
		}
		r.expect++
	}
	return nil
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

func (r *reorder) deliver(i int) error {
	s := &r.slots[i]
	s.used = false
	r.held--
	r.expect = s.hdr.SequenceNumber + 1
	return r.next.HandleRTP(&s.hdr, s.buf[:s.n])
}

func (r *reorder) String() string {
	return fmt.Sprintf("Reorder(%d) -> %s", r.window, r.next.String())
}
