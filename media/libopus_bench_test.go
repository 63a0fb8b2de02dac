//go:build libopus

package media_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/internal/libopusref"
	"github.com/callbridge/callbridge/media/mediatest"
)

// BenchmarkLibopusDecode decodes the same packets with libopus (cgo), at
// the same output rates as BenchmarkPionDecode, for the pure-Go/libopus
// ratio in docs/BENCHMARKS.md. Also decodes straight to 8 kHz, the
// reference figure quoted for libopus.
func BenchmarkLibopusDecode(b *testing.B) {
	for _, fx := range benchFixtures {
		pkts := mediatest.OpusPackets(b, fx.file)
		rates := []int{8000}
		if fx.name != "SILK-NB" {
			rates = append(rates, 16000)
		}
		for _, rate := range rates {
			name := fx.name
			if rate == 8000 && fx.name != "SILK-NB" {
				name += "@8k"
			}
			b.Run(name, func(b *testing.B) {
				dec, err := libopusref.NewDecoder(rate)
				require.NoError(b, err)
				defer dec.Close()
				pcm := make([]int16, 1920)
				media.LoopCPU(b, func(i int) {
					if _, err := dec.Decode(pkts[i%len(pkts)], pcm); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}
