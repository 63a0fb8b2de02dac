package media

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/pion/rtp"
)

// RFC 4733 telephone-event for DTMF.
const (
	dtmfVolume      = 10 // -10 dBm0 (RFC 4733 §2.3.4)
	dtmfEndRepeats  = 3  // end packets sent (RFC 4733 §2.5.1.4)
	dtmfQueueLen    = 32
	dtmfPauseFrames = 2 // audio frames between two digits (40 ms at 20 ms)
	// MinDTMFDuration and MaxDTMFDuration bound one digit.
	MinDTMFDuration = 40 * time.Millisecond
	MaxDTMFDuration = 5 * time.Second
	// DefaultDTMFDuration is used when a duration of 0 is asked for.
	DefaultDTMFDuration = 100 * time.Millisecond
)

// DTMFEvent returns the RFC 4733 §3.2 event code of a DTMF digit
// (0-9, *, #, A-D; lower-case letters accepted).
func DTMFEvent(digit rune) (uint8, error) {
	switch {
	case digit >= '0' && digit <= '9':
		return uint8(digit - '0'), nil
	case digit == '*':
		return 10, nil
	case digit == '#':
		return 11, nil
	case digit >= 'A' && digit <= 'D':
		return uint8(digit-'A') + 12, nil
	case digit >= 'a' && digit <= 'd':
		return uint8(digit-'a') + 12, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrInvalidDigit, digit)
}

// DTMFDigit returns the digit of an RFC 4733 §3.2 event code, or 0 for
// events that are not DTMF.
func DTMFDigit(event uint8) rune {
	switch {
	case event <= 9:
		return rune('0' + event)
	case event == 10:
		return '*'
	case event == 11:
		return '#'
	case event <= 15:
		return rune('A' + event - 12)
	}
	return 0
}

// TelephoneEvent is one RFC 4733 §2.3 payload.
type TelephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8  // 0-63, -dBm0
	Duration uint16 // timestamp units since the event started
}

// ParseTelephoneEvent decodes the first 4 bytes of payload (RFC 4733 §2.3;
// further bytes are redundant events and ignored).
func ParseTelephoneEvent(payload []byte) (TelephoneEvent, error) {
	if len(payload) < 4 {
		return TelephoneEvent{}, fmt.Errorf("%w: %d bytes", ErrMalformedDTMF, len(payload))
	}
	return TelephoneEvent{
		Event:    payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(payload[2:4]),
	}, nil
}

// Marshal writes the event into b (at least 4 bytes) and returns b[:4].
func (e TelephoneEvent) Marshal(b []byte) []byte {
	b = b[:4]
	b[0] = e.Event
	b[1] = e.Volume & 0x3f
	if e.End {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], e.Duration)
	return b
}

// dtmfSender queues digits and sends them as RFC 4733 events in place of
// audio frames of the packetizer it is attached to, so events share the
// audio's SSRC and sequence numbers and their timestamps cannot collide
// with audio: the audio frames of the event's time are not sent
// (RFC 4733 §2.5.1.2 and §2.6).
//
// Not safe for concurrent use; the owning pipeline serialises calls.
type dtmfSender struct {
	queue  [dtmfQueueLen]dtmfDigit
	head   int
	count  int
	active bool
	cur    dtmfDigit
	start  uint32 // RTP timestamp of the event (RFC 4733 §2.5.1.2)
	sent   int    // samples covered so far
	pause  int    // audio frames to send before the next digit
	buf    [4]byte
}

type dtmfDigit struct {
	event   uint8
	samples int
	pt      uint8
}

func (d *dtmfSender) enqueue(event uint8, dur time.Duration, pt uint8) error {
	if d.count == len(d.queue) {
		return ErrDTMFQueueFull
	}
	if dur == 0 {
		dur = DefaultDTMFDuration
	}
	dur = min(max(dur, MinDTMFDuration), MaxDTMFDuration)
	d.queue[(d.head+d.count)%len(d.queue)] = dtmfDigit{event: event, samples: int(dur / (time.Second / 8000)), pt: pt}
	d.count++
	return nil
}

// tick is called for each frame slot of the packetizer; it reports whether
// the slot was used for DTMF.
func (d *dtmfSender) tick(p *packetizer, ts uint32) (bool, error) {
	if d.active {
		d.sent += p.frame
		ev := TelephoneEvent{Event: d.cur.event, Volume: dtmfVolume, Duration: uint16(min(d.sent, 0xffff))}
		if d.sent < d.cur.samples {
			return true, p.send(d.cur.pt, d.start, false, ev.Marshal(d.buf[:]))
		}
		ev.End = true
		d.active = false
		d.pause = dtmfPauseFrames
		p.marker = true // audio resumes: new talkspurt
		for range dtmfEndRepeats {
			if err := p.send(d.cur.pt, d.start, false, ev.Marshal(d.buf[:])); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	if d.pause > 0 {
		d.pause--
		return false, nil
	}
	if d.count == 0 {
		return false, nil
	}
	d.cur = d.queue[d.head]
	d.head = (d.head + 1) % len(d.queue)
	d.count--
	d.active, d.start, d.sent = true, ts, p.frame
	ev := TelephoneEvent{Event: d.cur.event, Volume: dtmfVolume, Duration: uint16(d.sent)}
	// RFC 4733 §2.5.1.3: marker on the first packet of an event.
	return true, p.send(d.cur.pt, d.start, true, ev.Marshal(d.buf[:]))
}

// DTMFReceiver decodes RFC 4733 telephone-events and reports each digit
// once, when it ends. It tolerates a missing marker bit (a new event is
// recognised by its timestamp, RFC 4733 §2.5.2.1), repeated or lost end
// packets (an unfinished event is reported when the next one starts), and
// non-DTMF events (ignored).
//
// Not safe for concurrent use.
type DTMFReceiver struct {
	clockRate int
	onDigit   func(digit rune, duration time.Duration)
	active    bool   // an event is in progress and unreported
	ts        uint32 // timestamp of the current or last event
	event     uint8
	duration  uint16
	done      bool // the event at ts was reported
}

// NewDTMFReceiver returns a receiver for a telephone-event stream at
// clockRate that calls onDigit once per digit.
func NewDTMFReceiver(clockRate int, onDigit func(digit rune, duration time.Duration)) *DTMFReceiver {
	if clockRate <= 0 {
		clockRate = 8000
	}
	return &DTMFReceiver{clockRate: clockRate, onDigit: onDigit}
}

// HandleRTP takes one telephone-event packet.
func (r *DTMFReceiver) HandleRTP(h *rtp.Header, payload []byte) error {
	if h == nil {
		return ErrNilPacket
	}
	ev, err := ParseTelephoneEvent(payload)
	if err != nil {
		return err
	}
	if (r.active || r.done) && h.Timestamp == r.ts && ev.Event == r.event {
		if r.done {
			return nil // repeated end packet or retransmission
		}
		r.duration = max(r.duration, ev.Duration)
		if ev.End {
			r.report()
		}
		return nil
	}
	// A new event: report an unfinished previous one first.
	if r.active {
		r.report()
	}
	r.active, r.done = true, false
	r.ts, r.event, r.duration = h.Timestamp, ev.Event, ev.Duration
	if ev.End {
		r.report()
	}
	return nil
}

func (r *DTMFReceiver) report() {
	r.active, r.done = false, true
	if d := DTMFDigit(r.event); d != 0 && r.onDigit != nil {
		r.onDigit(d, time.Duration(r.duration)*time.Second/time.Duration(r.clockRate))
	}
}

// String names the stage.
func (r *DTMFReceiver) String() string { return "DTMFReceiver" }
