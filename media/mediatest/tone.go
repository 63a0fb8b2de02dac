// Package mediatest holds audio test helpers shared by the media, bridge and
// e2e tests: Goertzel tone detection, a G.711 tone source, and the committed
// Opus fixtures. Audio is checked by detecting tones with an amplitude window,
// never by comparing samples.
package mediatest

import (
	"math"

	"github.com/zaf/g711"

	"github.com/callbridge/callbridge/media"
)

// ToneAmplitude returns the amplitude of the freqHz component of samples as a
// fraction of full scale (a full-scale sine gives 1.0), using the Goertzel
// algorithm over the whole slice with a Hann window to keep neighbouring
// tones and DC out of the measurement.
func ToneAmplitude(samples []int16, sampleRate int, freqHz float64) float64 {
	n := len(samples)
	if n == 0 || sampleRate <= 0 {
		return 0
	}
	w := 2 * math.Pi * freqHz / float64(sampleRate)
	coeff := 2 * math.Cos(w)
	var s1, s2, wsum float64
	for i, x := range samples {
		win := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		wsum += win
		s0 := float64(x)/32768*win + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	return 2 * math.Sqrt(re*re+im*im) / wsum
}

// RMS returns the root mean square of samples as a fraction of full scale.
func RMS(samples []int16) float64 {
	if len(samples) == 0 {
		return 0
	}
	var sum float64
	for _, x := range samples {
		f := float64(x) / 32768
		sum += f * f
	}
	return math.Sqrt(sum / float64(len(samples)))
}

// DominantFreq returns the frequency between loHz and hiHz (stepping stepHz)
// with the largest ToneAmplitude, and that amplitude.
func DominantFreq(samples []int16, sampleRate int, loHz, hiHz, stepHz float64) (hz, amplitude float64) {
	for f := loHz; f <= hiHz; f += stepHz {
		if a := ToneAmplitude(samples, sampleRate, f); a > amplitude {
			hz, amplitude = f, a
		}
	}
	return hz, amplitude
}

// DBFS converts an amplitude fraction of full scale to dB.
func DBFS(amplitude float64) float64 {
	if amplitude <= 0 {
		return math.Inf(-1)
	}
	return 20 * math.Log10(amplitude)
}

// MaxStep returns the largest absolute difference between adjacent samples,
// a measure of clicks and discontinuities.
func MaxStep(samples []int16) int {
	m := 0
	for i := 1; i < len(samples); i++ {
		d := int(samples[i]) - int(samples[i-1])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}

// Sine returns n samples of a sine at freqHz and amplitude (fraction of full
// scale) sampled at sampleRate, starting at phase 0.
func Sine(n, sampleRate int, freqHz, amplitude float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amplitude * 32767 * math.Sin(2*math.Pi*freqHz*float64(i)/float64(sampleRate))))
	}
	return out
}

// DecodeG711 decodes a G.711 payload (PCMU or PCMA by codec name) and appends
// the samples to dst.
func DecodeG711(dst []int16, codec media.Codec, payload []byte) []int16 {
	for _, b := range payload {
		if codec.Name == media.CodecPCMA.Name {
			dst = append(dst, g711.DecodeAlawFrame(b))
		} else {
			dst = append(dst, g711.DecodeUlawFrame(b))
		}
	}
	return dst
}

// EncodeG711 encodes samples as a G.711 payload (PCMU or PCMA by codec name).
func EncodeG711(codec media.Codec, samples []int16) []byte {
	out := make([]byte, len(samples))
	for i, s := range samples {
		if codec.Name == media.CodecPCMA.Name {
			out[i] = g711.EncodeAlawFrame(s)
		} else {
			out[i] = g711.EncodeUlawFrame(s)
		}
	}
	return out
}

// ToneSource produces a continuous 8 kHz G.711 tone, one 20 ms payload per
// Next call.
type ToneSource struct {
	codec     media.Codec
	freq, amp float64
	n         int // samples produced so far
	pcm       []int16
	buf       []byte
}

// NewToneSource returns a source of a freqHz tone at amplitude (fraction of
// full scale) encoded with codec (PCMU or PCMA).
func NewToneSource(codec media.Codec, freqHz, amplitude float64) *ToneSource {
	return &ToneSource{codec: codec, freq: freqHz, amp: amplitude, pcm: make([]int16, 160), buf: make([]byte, 160)}
}

// Next returns the next 20 ms (160 samples) of the tone as a G.711 payload.
// The returned slice is reused by the following call.
func (s *ToneSource) Next() []byte {
	for i := range s.pcm {
		s.pcm[i] = int16(math.Round(s.amp * 32767 * math.Sin(2*math.Pi*s.freq*float64(s.n+i)/8000)))
	}
	s.n += len(s.pcm)
	for i, x := range s.pcm {
		if s.codec.Name == media.CodecPCMA.Name {
			s.buf[i] = g711.EncodeAlawFrame(x)
		} else {
			s.buf[i] = g711.EncodeUlawFrame(x)
		}
	}
	return s.buf
}

// Samples returns how many samples the source has produced.
func (s *ToneSource) Samples() int { return s.n }
