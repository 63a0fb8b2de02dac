//go:build libopus

package libopusref

// #cgo pkg-config: opus
// #include <opus.h>
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// ErrDecode reports a libopus error code.
var ErrDecode = errors.New("libopus")

// Decoder is a mono libopus decoder.
type Decoder struct {
	st *C.OpusDecoder
}

// NewDecoder creates a decoder at rate (8000, 12000, 16000, 24000, 48000).
// Call Close when done.
func NewDecoder(rate int) (*Decoder, error) {
	var e C.int
	st := C.opus_decoder_create(C.opus_int32(rate), 1, &e)
	if e != C.OPUS_OK {
		return nil, fmt.Errorf("%w: create: %d", ErrDecode, int(e))
	}
	return &Decoder{st: st}, nil
}

// Decode decodes one packet into pcm and returns the samples written.
func (d *Decoder) Decode(pkt []byte, pcm []int16) (int, error) {
	if len(pkt) == 0 || len(pcm) == 0 {
		return 0, fmt.Errorf("%w: empty buffer", ErrDecode)
	}
	n := C.opus_decode(d.st, (*C.uchar)(unsafe.Pointer(&pkt[0])), C.opus_int32(len(pkt)),
		(*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)), 0)
	if n < 0 {
		return 0, fmt.Errorf("%w: decode: %d", ErrDecode, int(n))
	}
	return int(n), nil
}

// Close frees the decoder.
func (d *Decoder) Close() {
	if d.st != nil {
		C.opus_decoder_destroy(d.st)
		d.st = nil
	}
}
