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

// opusDecoder is the Opus RTP -> 8 kHz PCM stage (RFC 6716 decoding by
// pion/opus, mono). Narrowband packets (SILK-NB, CELT-NB: what browsers send
// when told maxplaybackrate=8000) hold nothing above 4 kHz, so they are
// decoded straight to 8 kHz, the cheapest path and alias-free. Wider
// packets are decoded at 16 kHz and low-pass filtered to 8 kHz by our own
// decimator (resample.go), because the decoder's 8 kHz output aliases. Each
// path has its own decoder; a path switch resets the decoder taking over.
//
// Gaps are found from RTP timestamps (RFC 7587 §4.1, 48 kHz clock) and
// reported downstream, where loss concealment fills them: pion/opus v0.1.0
// has no PLC of its own.
//
// Not safe for concurrent use; the owning pipeline serialises calls.
type opusDecoder struct {
	nb, wide opus.Decoder
	wideNow  bool // the last packet took the wide path
	dec      decimator
	next     pcmStage
	pcm      [maxResampleIn]int16 // 120 ms at 16 kHz
	started  bool
	nextTS   uint32 // RTP timestamp the next packet should carry
}

func newOpusDecoder(next pcmStage) (*opusDecoder, error) {
	if next.SampleRate() != 8000 {
		return nil, fmt.Errorf("%w: opus decode feeds %d Hz, want 8000", ErrInvalidConfig, next.SampleRate())
	}
	nb, err := opus.NewDecoderWithOutput(8000, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: opus decoder: %w", ErrInvalidConfig, err)
	}
	wide, err := opus.NewDecoderWithOutput(resampleInRate, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: opus decoder: %w", ErrInvalidConfig, err)
	}
	return &opusDecoder{nb: nb, wide: wide, next: next}, nil
}

// isNarrowband reports whether an Opus packet is coded narrowband (RFC 6716
// §3.1, Table 2: configs 0-3 SILK NB, 16-19 CELT NB).
func isNarrowband(toc byte) bool {
	c := toc >> 3
	return c <= 3 || (c >= 16 && c <= 19)
}

func (o *opusDecoder) HandleRTP(h *rtp.Header, payload []byte) error {
	if o.started {
		gap := int32(h.Timestamp - o.nextTS)
		switch {
		case gap > 0 && gap <= maxConcealGap48:
			o.afterLoss()
			if err := o.next.WriteGap(int(gap / 6)); err != nil {
				return err
			}
		case gap < 0 && gap > -int32(opusClockRate/10):
			// Older than what was already played out; too late to use.
			return nil
		case gap != 0:
			o.afterLoss()
			if err := o.next.WriteGap(0); err != nil {
				return err
			}
		}
	}
	pcm, samples48, err := o.decode(payload)
	if err != nil {
		return err
	}
	o.started = true
	o.nextTS = h.Timestamp + uint32(samples48)
	return o.next.WriteSamples(pcm)
}

// decode returns 8 kHz PCM and the packet's duration in 48 kHz units,
// turning a panic on hostile input into an error and fresh decoder state.
func (o *opusDecoder) decode(payload []byte) (pcm []int16, samples48 int, err error) {
	wide := !isNarrowband(payload[0])
	defer func() {
		if r := recover(); r != nil {
			_ = o.nb.Init(8000, 1)
			_ = o.wide.Init(resampleInRate, 1)
			o.dec.reset()
			pcm, samples48, err = nil, 0, fmt.Errorf("%w: %v", ErrDecoderPanic, r)
		}
	}()
	if wide != o.wideNow {
		if wide {
			_ = o.wide.Init(resampleInRate, 1)
			o.dec.reset()
		} else {
			_ = o.nb.Init(8000, 1)
		}
		o.wideNow = wide
	}
	if !wide {
		n, err := o.nb.DecodeToInt16(payload, o.pcm[:maxFrameSamples8k])
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", ErrMalformedOpus, err)
		}
		return o.pcm[:n], n * 6, nil
	}
	n, err := o.wide.DecodeToInt16(payload, o.pcm[:])
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrMalformedOpus, err)
	}
	return o.dec.process(o.pcm[:n]), n * 3, nil
}

func (o *opusDecoder) String() string {
	return fmt.Sprintf("OpusDecode(NB 8000 | WB+ %d -> %s) -> %s", resampleInRate, o.dec.String(), o.next.String())
}

// restart forgets the stream: the next packet is the start of a new one,
// whatever its timestamp, and no gap is reported before it.
func (o *opusDecoder) restart() {
	o.started = false
	o.afterLoss()
}

// afterLoss resets the decoder that will take the next packet. pion/opus has
// no PLC, so after a lost frame its SILK state (gains coded relative to the
// previous frame, the long-term predictor's excitation history) is stale,
// and decoding on from it was measured to overshoot for up to 240 ms and to
// compound over repeated losses until the output clipped. A fresh decoder
// comes up quieter instead, which the PLC stage's cross-fade and post-loss
// limiter handle. See docs/MEDIA.md for the numbers.
func (o *opusDecoder) afterLoss() {
	if o.wideNow {
		_ = o.wide.Init(resampleInRate, 1)
		o.dec.reset()
		return
	}
	_ = o.nb.Init(8000, 1)
}
