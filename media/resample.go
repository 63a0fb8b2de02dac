package media

import (
	"fmt"
	"math"
)

// Decimating low-pass filter 16 kHz -> 8 kHz for Opus packets coded wider
// than narrowband. The decoder's own 8 kHz output folds a 4.2 kHz tone back
// into the passband only ~26 dB down (CELT just drops MDCT bands above
// 4 kHz), so wideband packets are decoded at 16 kHz and filtered here:
// linear-phase FIR of 88 taps, Kaiser window (β = 0.1102(A-8.7) for A =
// 70 dB), cutoff 3.75 kHz: -0.04 dB at 3.4 kHz, ≥ 70 dB down from 4.2 kHz
// (10 dB above the 60 dB asked for), 43.5 samples (2.72 ms) of delay. See
// docs/MEDIA.md for the measurements and the other designs considered.
const (
	resampleTaps   = 88
	resampleInRate = 16000
	resampleCutoff = 3750.0
	resampleAttnDB = 70.0
	maxResampleIn  = 120 * resampleInRate / 1000 // one 120 ms packet
)

// The unrolled filter loop needs the half length to be a multiple of 4.
var _ [1 - (resampleTaps/2)%4]struct{}

// resampleHalf holds the symmetric half of the filter: h[i] == h[taps-1-i].
var resampleHalf = designLowpass()

func designLowpass() [resampleTaps / 2]float32 {
	beta := 0.1102 * (resampleAttnDB - 8.7)
	i0b := besselI0(beta)
	fc := resampleCutoff / resampleInRate // cycles per sample
	var h [resampleTaps]float64
	var sum float64
	mid := float64(resampleTaps-1) / 2
	for i := range h {
		x := float64(i) - mid
		sinc := 2 * fc
		if x != 0 {
			sinc = math.Sin(2*math.Pi*fc*x) / (math.Pi * x)
		}
		r := x / mid
		h[i] = sinc * besselI0(beta*math.Sqrt(max(0, 1-r*r))) / i0b
		sum += h[i]
	}
	var half [resampleTaps / 2]float32
	for i := range half {
		half[i] = float32(h[i] / sum) // unity gain at DC
	}
	return half
}

// besselI0 is the zeroth-order modified Bessel function of the first kind
// (power series; converges fast for the β used here).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

// decimator filters 16 kHz PCM and keeps every other sample. Not safe for
// concurrent use.
type decimator struct {
	buf   [resampleTaps - 1 + maxResampleIn]float32 // history then new input
	phase int                                       // 0 or 1: parity of the next output in the input
	out   [maxResampleIn / 2]int16
}

func (d *decimator) reset() {
	clear(d.buf[:resampleTaps-1])
	d.phase = 0
}

// process returns the 8 kHz samples for in (at most maxResampleIn long).
// The returned slice is reused by the next call.
func (d *decimator) process(in []int16) []int16 {
	const hist = resampleTaps - 1
	x := d.buf[:hist+len(in)]
	for i, s := range in {
		x[hist+i] = float32(s)
	}
	n := 0
	i := d.phase
	for ; i < len(in); i += 2 {
		// Fixed-size views let the compiler drop bounds checks, and four
		// accumulators keep the adds from waiting on each other.
		w := (*[resampleTaps]float32)(x[i : i+resampleTaps])
		h := &resampleHalf
		var a0, a1, a2, a3 float32
		for k := 0; k < resampleTaps/2; k += 4 {
			a0 += h[k] * (w[k] + w[resampleTaps-1-k])
			a1 += h[k+1] * (w[k+1] + w[resampleTaps-2-k])
			a2 += h[k+2] * (w[k+2] + w[resampleTaps-3-k])
			a3 += h[k+3] * (w[k+3] + w[resampleTaps-4-k])
		}
		d.out[n] = clamp16((a0 + a1) + (a2 + a3))
		n++
	}
	d.phase = i - len(in)
	copy(d.buf[:hist], x[len(in):])
	return d.out[:n]
}

func clamp16(f float32) int16 {
	switch {
	case f >= 32767:
		return 32767
	case f <= -32768:
		return -32768
	case f >= 0:
		return int16(f + 0.5)
	default:
		return int16(f - 0.5)
	}
}

func (d *decimator) String() string {
	return fmt.Sprintf("Resample(%d->8000)", resampleInRate)
}
