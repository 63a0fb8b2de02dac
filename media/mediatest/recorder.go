package mediatest

import (
	"sync"

	"github.com/pion/rtp"

	"github.com/callbridge/callbridge/media"
)

// Packet is one recorded RTP packet.
type Packet struct {
	Header  rtp.Header
	Payload []byte
}

// RTPRecorder is a media.RTPHandler that keeps a copy of every packet.
// Safe for concurrent use.
type RTPRecorder struct {
	Name string // String() result; "out" when empty

	mu   sync.Mutex
	pkts []Packet // guarded by mu
}

// HandleRTP records a copy of the packet.
func (r *RTPRecorder) HandleRTP(h *rtp.Header, payload []byte) error {
	hc := *h
	hc.CSRC = append([]uint32(nil), h.CSRC...)
	hc.Extensions = nil
	r.mu.Lock()
	r.pkts = append(r.pkts, Packet{Header: hc, Payload: append([]byte(nil), payload...)})
	r.mu.Unlock()
	return nil
}

// String names the recorder in a pipeline chain.
func (r *RTPRecorder) String() string {
	if r.Name == "" {
		return "out"
	}
	return r.Name
}

// Packets returns a copy of the recorded packets.
func (r *RTPRecorder) Packets() []Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Packet(nil), r.pkts...)
}

// Reset forgets the recorded packets.
func (r *RTPRecorder) Reset() {
	r.mu.Lock()
	r.pkts = nil
	r.mu.Unlock()
}

// PCM decodes the recorded packets of payload type codec.PayloadType as
// G.711 of that codec, in arrival order.
func (r *RTPRecorder) PCM(codec media.Codec) []int16 {
	var out []int16
	for _, p := range r.Packets() {
		if p.Header.PayloadType == codec.PayloadType {
			out = DecodeG711(out, codec, p.Payload)
		}
	}
	return out
}
