package harness

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/zaf/g711"
)

// WAV format tags (RIFF WAVE "fmt " chunk, wFormatTag).
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavExtensible = 0xFFFE
)

// Audio is decoded mono audio: the first channel of a WAV file, with samples
// scaled to [-1, 1] (full scale = 1).
type Audio struct {
	Rate     int       // samples per second
	Channels int       // channels in the file; Samples holds the first one
	Samples  []float64 // first channel, full scale = 1
}

// Duration is the length of the audio in seconds.
func (a Audio) Duration() float64 {
	if a.Rate == 0 {
		return 0
	}
	return float64(len(a.Samples)) / float64(a.Rate)
}

// Window returns the samples between from and to seconds, clamped to the
// audio; tone checks use it to skip codec and jitter-buffer warm-up.
func (a Audio) Window(from, to float64) []float64 {
	i := int(from * float64(a.Rate))
	j := int(to * float64(a.Rate))
	i = max(0, min(i, len(a.Samples)))
	j = max(i, min(j, len(a.Samples)))
	return a.Samples[i:j]
}

// MakeToneWAV writes a mono 16-bit sine of hz at half of full scale, secs
// long at rate samples per second, with sox, and returns its absolute path
// (in t.TempDir()).
func MakeToneWAV(t testing.TB, hz float64, secs float64, rate int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), fmt.Sprintf("tone%g_%dhz_%gs.wav", hz, rate, secs))
	runSox(t, "-n", "-r", strconv.Itoa(rate), "-c", "1", "-b", "16", out,
		"synth", fmt.Sprint(secs), "sine", fmt.Sprint(hz), "vol", "0.5")
	return out
}

// MakeToneULawWAV writes an 8 kHz mono G.711 µ-law sine (what sipp's
// rtp_stream plays as payload type 0) and returns its absolute path.
func MakeToneULawWAV(t testing.TB, hz float64, secs float64) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), fmt.Sprintf("tone%g_8k_ulaw_%gs.wav", hz, secs))
	runSox(t, "-n", "-r", "8000", "-c", "1", "-e", "u-law", out,
		"synth", fmt.Sprint(secs), "sine", fmt.Sprint(hz), "vol", "0.5")
	return out
}

func runSox(t testing.TB, args ...string) {
	t.Helper()
	bin := LookPath(t, "sox")
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sox %v: %v\n%s", args, err, out)
	}
}

// ReadWAV reads and decodes a WAV file; see [DecodeWAV].
func ReadWAV(path string) (Audio, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Audio{}, err
	}
	a, err := DecodeWAV(b)
	if err != nil {
		return Audio{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// DecodeWAV decodes a RIFF/WAVE file: PCM 8/16/24/32-bit, IEEE float 32/64,
// G.711 A-law and µ-law, plain or WAVE_FORMAT_EXTENSIBLE. A data chunk that
// claims more bytes than the file holds (a recorder killed before it fixed
// up the header) is read up to the end of the file.
func DecodeWAV(b []byte) (Audio, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Audio{}, ErrNotWAV
	}
	var (
		format, channels, bits int
		rate                   int
		haveFmt                bool
	)
	p := 12
	for p+8 <= len(b) {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		body := p + 8
		if size < 0 || size > len(b)-body {
			if id != "data" {
				return Audio{}, fmt.Errorf("%w: chunk %q", ErrWAVTruncated, id)
			}
			size = len(b) - body
		}
		chunk := b[body : body+size]
		switch id {
		case "fmt ":
			if size < 16 {
				return Audio{}, fmt.Errorf("%w: fmt chunk of %d bytes", ErrWAVTruncated, size)
			}
			format = int(binary.LittleEndian.Uint16(chunk[0:2]))
			channels = int(binary.LittleEndian.Uint16(chunk[2:4]))
			rate = int(binary.LittleEndian.Uint32(chunk[4:8]))
			bits = int(binary.LittleEndian.Uint16(chunk[14:16]))
			if format == wavExtensible {
				if size < 26 {
					return Audio{}, fmt.Errorf("%w: extensible fmt chunk of %d bytes", ErrWAVTruncated, size)
				}
				format = int(binary.LittleEndian.Uint16(chunk[24:26])) // first bytes of the SubFormat GUID
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return Audio{}, fmt.Errorf("%w: data chunk before fmt chunk", ErrWAVFormat)
			}
			return decodeSamples(chunk, format, channels, bits, rate)
		}
		p = body + size + size&1 // chunks are padded to even sizes
	}
	return Audio{}, fmt.Errorf("%w: no data chunk", ErrWAVTruncated)
}

func decodeSamples(data []byte, format, channels, bits, rate int) (Audio, error) {
	if channels < 1 || channels > 32 || rate < 1 || rate > 768000 {
		return Audio{}, fmt.Errorf("%w: %d channels at %d Hz", ErrWAVFormat, channels, rate)
	}
	var decode func([]byte) float64
	switch {
	case format == wavPCM && bits == 8:
		decode = func(s []byte) float64 { return (float64(s[0]) - 128) / 128 }
	case format == wavPCM && bits == 16:
		decode = func(s []byte) float64 { return float64(int16(binary.LittleEndian.Uint16(s))) / 32768 }
	case format == wavPCM && bits == 24:
		decode = func(s []byte) float64 {
			v := int32(uint32(s[0])<<8|uint32(s[1])<<16|uint32(s[2])<<24) >> 8
			return float64(v) / (1 << 23)
		}
	case format == wavPCM && bits == 32:
		decode = func(s []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(s))) / (1 << 31) }
	case format == wavFloat && bits == 32:
		decode = func(s []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(s))) }
	case format == wavFloat && bits == 64:
		decode = func(s []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(s)) }
	case format == wavMuLaw && bits == 8:
		decode = func(s []byte) float64 { return float64(g711.DecodeUlawFrame(s[0])) / 32768 }
	case format == wavALaw && bits == 8:
		decode = func(s []byte) float64 { return float64(g711.DecodeAlawFrame(s[0])) / 32768 }
	default:
		return Audio{}, fmt.Errorf("%w: format tag %#x with %d bits", ErrWAVFormat, format, bits)
	}
	frame := channels * bits / 8
	n := len(data) / frame
	a := Audio{Rate: rate, Channels: channels, Samples: make([]float64, n)}
	for i := range n {
		a.Samples[i] = decode(data[i*frame:])
	}
	return a, nil
}

// ToneAmplitude is the amplitude (full scale = 1) of the hz component of
// samples taken at rate, measured with the Goertzel algorithm. A pure sine
// of amplitude A gives ≈A when the window holds many periods.
func ToneAmplitude(samples []float64, rate int, hz float64) float64 {
	n := len(samples)
	if n == 0 || rate <= 0 {
		return 0
	}
	w := 2 * math.Pi * hz / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range samples {
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	if power < 0 {
		power = 0
	}
	return 2 * math.Sqrt(power) / float64(n)
}

// RMS is the root mean square of samples (a full-scale sine gives 0.707).
func RMS(samples []float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	var sum float64
	for _, x := range samples {
		sum += x * x
	}
	return math.Sqrt(sum / float64(len(samples)))
}

// DominantTone returns which of the candidate frequencies has the largest
// Goertzel amplitude in samples, and that amplitude.
func DominantTone(samples []float64, rate int, candidates ...float64) (hz, amplitude float64) {
	for _, c := range candidates {
		if a := ToneAmplitude(samples, rate, c); a > amplitude {
			hz, amplitude = c, a
		}
	}
	return hz, amplitude
}

// AudioFromInt16 wraps 16-bit linear samples (e.g. what a test client
// decoded from G.711) as Audio.
func AudioFromInt16(samples []int16, rate int) Audio {
	a := Audio{Rate: rate, Channels: 1, Samples: make([]float64, len(samples))}
	for i, s := range samples {
		a.Samples[i] = float64(s) / 32768
	}
	return a
}
