package media

import (
	"testing"

	"github.com/pion/rtp"
)

type nopRTP struct{}

func (nopRTP) HandleRTP(*rtp.Header, []byte) error { return nil }
func (nopRTP) String() string                      { return "nop" }

type nopPCM struct{}

func (nopPCM) WriteSamples([]int16) error { return nil }
func (nopPCM) WriteGap(int) error         { return nil }
func (nopPCM) SampleRate() int            { return 8000 }
func (nopPCM) String() string             { return "nop" }

type nopBytes struct{}

func (nopBytes) Write([]byte, bool) error { return nil }
func (nopBytes) WriteGap(int) error       { return nil }
func (nopBytes) String() string           { return "nop" }

func benchPCM(n int) []int16 {
	x := make([]int16, n)
	for i := range x {
		x[i] = int16((i * 7919) % 20000)
	}
	return x
}

// Per-stage costs for one 20 ms frame.
func BenchmarkStageResample(b *testing.B) {
	var d decimator
	in := benchPCM(320)
	LoopCPU(b, func(int) {
		d.process(in)
	})
}

func BenchmarkStagePLC(b *testing.B) {
	p := newPLC(nopPCM{})
	in := benchPCM(160)
	LoopCPU(b, func(int) {
		_ = p.WriteSamples(in)
	})
}

func BenchmarkStageLevel(b *testing.B) {
	l := &levelStage{meter: &levelMeter{rate: 8000}, next: nopPCM{}}
	in := benchPCM(160)
	LoopCPU(b, func(int) {
		_ = l.WriteSamples(in)
	})
}

func BenchmarkStageG711Encode(b *testing.B) {
	e := newG711Encoder(kindUlaw, nopBytes{})
	in := benchPCM(160)
	LoopCPU(b, func(int) {
		_ = e.WriteSamples(in)
	})
}

func BenchmarkStagePacketize(b *testing.B) {
	p, _ := newPacketizer(kindUlaw, 0, 1, 0, nopRTP{})
	p.dtmf = &dtmfSender{}
	in := make([]byte, 160)
	LoopCPU(b, func(int) {
		_ = p.Write(in, false)
	})
}

func BenchmarkStageReorderStats(b *testing.B) {
	s := newRTPStats(48000, nil, nil, newReorder(3, nopRTP{}, nil))
	h := rtp.Header{SSRC: 1}
	in := make([]byte, 40)
	LoopCPU(b, func(int) {
		h.SequenceNumber++
		h.Timestamp += 960
		_ = s.HandleRTP(&h, in)
	})
}

func BenchmarkStageTranscode(b *testing.B) {
	t := newG711Transcoder(kindAlaw, kindUlaw, &levelMeter{rate: 8000}, nopBytes{})
	in := make([]byte, 160)
	LoopCPU(b, func(int) {
		_ = t.Write(in, false)
	})
}
