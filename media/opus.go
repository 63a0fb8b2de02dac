package media

import (
	"fmt"

	"github.com/pion/opus"
	"github.com/pion/rtp"
)

const (
	opusClockRate = 48000 // RFC 7587 §4.1: the RTP clock is always 48 kHz
	// maxConcealGap48 is the longest gap (in 48 kHz units) still treated
	// as loss of one continuing stream; longer jumps are a restart.
	maxConcealGap48 = 2 * opusClockRate
)

// opusDecoder is the Opus RTP -> PCM stage (RFC 6716 decoding by
// pion/opus, mono, at the rate of the next stage). It finds gaps from RTP
// timestamps (RFC 7587 §4.1, 48 kHz clock) and reports them downstream,
// where loss concealment fills them: pion/opus v0.1.0 has no PLC of its own.
//
// Not safe for concurrent use; the owning pipeline serialises calls.
type opusDecoder struct {
	dec     opus.Decoder
	rate    int
	ratio   uint32 // 48000 / rate
	next    pcmStage
	pcm     []int16 // 120 ms at rate
	started bool
	nextTS  uint32 // RTP timestamp the next packet should carry
}

func newOpusDecoder(next pcmStage) (*opusDecoder, error) {
	rate := next.SampleRate()
	dec, err := opus.NewDecoderWithOutput(rate, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: opus decoder at %d Hz: %w", ErrInvalidConfig, rate, err)
	}
	return &opusDecoder{
		dec:   dec,
		rate:  rate,
		ratio: uint32(opusClockRate / rate),
		next:  next,
		pcm:   make([]int16, rate*120/1000),
	}, nil
}

func (o *opusDecoder) HandleRTP(h *rtp.Header, payload []byte) error {
	if o.started {
		gap := int32(h.Timestamp - o.nextTS)
		switch {
		case gap > 0 && gap <= maxConcealGap48:
			if err := o.next.WriteGap(int(uint32(gap) / o.ratio)); err != nil {
				return err
			}
		case gap < 0 && gap > -int32(opusClockRate/10):
			// Older than what was already played out; too late to use.
			return nil
		case gap != 0:
			if err := o.next.WriteGap(0); err != nil {
				return err
			}
		}
	}
	n, err := o.decode(payload)
	if err != nil {
		return err
	}
	o.started = true
	o.nextTS = h.Timestamp + uint32(n)*o.ratio
	return o.next.WriteSamples(o.pcm[:n])
}

// decode runs the decoder, turning a panic on hostile input into an error
// and a fresh decoder state.
func (o *opusDecoder) decode(payload []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			_ = o.dec.Init(o.rate, 1)
			n, err = 0, fmt.Errorf("%w: %v", ErrDecoderPanic, r)
		}
	}()
	n, err = o.dec.DecodeToInt16(payload, o.pcm)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformedOpus, err)
	}
	return n, nil
}

func (o *opusDecoder) String() string {
	return fmt.Sprintf("OpusDecode(%d) -> %s", o.rate, o.next.String())
}
