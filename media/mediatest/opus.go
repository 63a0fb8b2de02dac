package mediatest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// Opus fixtures committed in media/testdata (made by media/testdata/mkfixtures.sh).
const (
	FixtureSilkNB   = "tone1k_silknb.opus"      // 1 kHz, SILK narrowband 12 kbit/s
	FixtureSilkWB   = "tone1k_silkwb.opus"      // 1 kHz, SILK wideband 20 kbit/s
	FixtureHybridFB = "tone1k_hybridfb.opus"    // 1 kHz, hybrid fullband 32 kbit/s
	FixtureCELT     = "tone1k_celt.opus"        // 1 kHz, CELT fullband 64 kbit/s
	FixtureSteps    = "steps_celt.opus"         // 0.3 s steps: see StepTones
	FixtureLong440  = "tone440_silknb_10s.opus" // 10 s of 440 Hz, SILK narrowband 12 kbit/s
)

// StepTones are the tones of FixtureSteps in order, each StepDuration long.
var StepTones = []float64{300, 1000, 2000, 3000, 3400, 4200, 5000, 8000, 12000, 16000, 20000}

// StepMillis is the length of each tone of FixtureSteps.
const StepMillis = 300

// FixtureDir returns the absolute path of media/testdata.
func FixtureDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "testdata")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// OpusPackets returns the Opus packets of fixture name (a file in
// media/testdata), without the Ogg identification and comment headers.
func OpusPackets(t testing.TB, name string) [][]byte {
	t.Helper()
	pkts, err := ReadOpusFile(filepath.Join(FixtureDir(), name))
	if err != nil {
		t.Fatalf("opus fixture %s: %v", name, err)
	}
	return pkts
}

// ReadOpusFile returns the audio packets of an Ogg/Opus file (RFC 7845).
//
// pion's oggreader validates the OpusHead page here, but it returns each
// page's payload whole, and opusenc puts many packets on one page; so the
// packets are split by the page's segment table (RFC 3533 §6: a packet ends
// at the first lacing value below 255).
func ReadOpusFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, _, err := oggreader.NewWith(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("ogg opus header: %w", err)
	}
	var (
		pkts    [][]byte
		partial []byte
		headers int
	)
	for off := 0; off < len(data); {
		if len(data)-off < 27 || string(data[off:off+4]) != "OggS" {
			return nil, fmt.Errorf("bad ogg page at byte %d", off)
		}
		nseg := int(data[off+26])
		segs := data[off+27 : min(len(data), off+27+nseg)]
		if len(segs) != nseg {
			return nil, fmt.Errorf("truncated ogg page at byte %d", off)
		}
		body := off + 27 + nseg
		for _, l := range segs {
			if body+int(l) > len(data) {
				return nil, fmt.Errorf("truncated ogg segment at byte %d", body)
			}
			partial = append(partial, data[body:body+int(l)]...)
			body += int(l)
			if l < 255 {
				if headers < 2 { // OpusHead, OpusTags (RFC 7845 §3)
					headers++
				} else {
					pkts = append(pkts, partial)
				}
				partial = nil
			}
		}
		off = body
	}
	if len(pkts) == 0 {
		return nil, errors.New("no opus packets")
	}
	return pkts, nil
}
