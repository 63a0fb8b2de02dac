package media

import (
	"fmt"

	"github.com/zaf/g711"
)

// Lookup tables built once from zaf/g711 (ITU-T G.711): encoding a sample is
// one load instead of a segment search, which keeps the per-packet cost of
// the encode stage small next to the Opus decoder.
var (
	ulawEncode [65536]byte // indexed by uint16(sample)
	alawEncode [65536]byte
	ulawDecode [256]int16
	alawDecode [256]int16
	alawToUlaw [256]byte
	ulawToAlaw [256]byte
)

func init() {
	for i := range 65536 {
		s := int16(uint16(i))
		ulawEncode[i] = g711.EncodeUlawFrame(s)
		alawEncode[i] = g711.EncodeAlawFrame(s)
	}
	for i := range 256 {
		ulawDecode[i] = g711.DecodeUlawFrame(uint8(i))
		alawDecode[i] = g711.DecodeAlawFrame(uint8(i))
		alawToUlaw[i] = g711.Alaw2UlawFrame(uint8(i))
		ulawToAlaw[i] = g711.Ulaw2AlawFrame(uint8(i))
	}
}

// Silence bytes: the code for a zero sample.
const (
	ulawSilence byte = 0xFF
	alawSilence byte = 0xD5
)

// g711Kind tells the two laws apart without string compares on the hot path.
type g711Kind uint8

const (
	kindUlaw g711Kind = iota + 1
	kindAlaw
)

func kindOf(c Codec) (g711Kind, error) {
	switch {
	case c.Name == CodecPCMU.Name && c.ClockRate == 8000:
		return kindUlaw, nil
	case c.Name == CodecPCMA.Name && c.ClockRate == 8000:
		return kindAlaw, nil
	default:
		return 0, fmt.Errorf("%w: %s/%d (want PCMU/8000 or PCMA/8000)", ErrUnsupportedCodec, c.Name, c.ClockRate)
	}
}

func (k g711Kind) silence() byte {
	if k == kindAlaw {
		return alawSilence
	}
	return ulawSilence
}

func (k g711Kind) decode(b byte) int16 {
	if k == kindAlaw {
		return alawDecode[b]
	}
	return ulawDecode[b]
}

func (k g711Kind) String() string {
	if k == kindAlaw {
		return "PCMA"
	}
	return "PCMU"
}

// byteStage consumes G.711 bytes, one per 8 kHz sample.
type byteStage interface {
	// Write takes G.711 bytes; marker says a talkspurt starts with them.
	Write(b []byte, marker bool) error
	// WriteGap reports n samples that will never arrive; n == 0 marks a
	// discontinuity of unknown length.
	WriteGap(n int) error
	String() string
}

// g711Encoder is the PCM -> G.711 stage.
type g711Encoder struct {
	table *[65536]byte
	name  string
	next  byteStage
	buf   [maxFrameSamples8k]byte
}

func newG711Encoder(kind g711Kind, next byteStage) *g711Encoder {
	e := &g711Encoder{table: &ulawEncode, name: "PCMU", next: next}
	if kind == kindAlaw {
		e.table, e.name = &alawEncode, "PCMA"
	}
	return e
}

func (e *g711Encoder) WriteSamples(samples []int16) error {
	for len(samples) > 0 {
		n := min(len(samples), len(e.buf))
		for i, s := range samples[:n] {
			e.buf[i] = e.table[uint16(s)]
		}
		if err := e.next.Write(e.buf[:n], false); err != nil {
			return err
		}
		samples = samples[n:]
	}
	return nil
}

func (e *g711Encoder) WriteGap(n int) error { return e.next.WriteGap(n) }
func (e *g711Encoder) SampleRate() int      { return 8000 }
func (e *g711Encoder) String() string       { return e.name + " -> " + e.next.String() }

// g711Transcoder converts between A-law and µ-law byte by byte (G.711 tables
// 1a/1b and 2a/2b), or passes bytes through when both sides use one law. It
// also feeds the level meter with the decoded samples.
type g711Transcoder struct {
	in, out g711Kind
	conv    *[256]byte // nil when in == out
	level   *levelMeter
	next    byteStage
	buf     [maxPayloadSize]byte
	pcm     [maxPayloadSize]int16
}

func newG711Transcoder(in, out g711Kind, level *levelMeter, next byteStage) *g711Transcoder {
	t := &g711Transcoder{in: in, out: out, level: level, next: next}
	switch {
	case in == kindAlaw && out == kindUlaw:
		t.conv = &alawToUlaw
	case in == kindUlaw && out == kindAlaw:
		t.conv = &ulawToAlaw
	}
	return t
}

func (t *g711Transcoder) Write(b []byte, marker bool) error {
	if t.level != nil {
		dec := &ulawDecode
		if t.in == kindAlaw {
			dec = &alawDecode
		}
		pcm := t.pcm[:len(b)]
		for i, x := range b {
			pcm[i] = dec[x]
		}
		t.level.write(pcm)
	}
	if t.conv == nil {
		return t.next.Write(b, marker)
	}
	out := t.buf[:len(b)]
	for i, x := range b {
		out[i] = t.conv[x]
	}
	return t.next.Write(out, marker)
}

func (t *g711Transcoder) WriteGap(n int) error { return t.next.WriteGap(n) }

func (t *g711Transcoder) String() string {
	if t.conv == nil {
		return t.in.String() + " -> " + t.next.String()
	}
	return t.in.String() + "->" + t.out.String() + " -> " + t.next.String()
}
