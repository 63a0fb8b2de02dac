package media_test

import (
	"fmt"
	"testing"

	"github.com/pion/opus"

	"github.com/callbridge/callbridge/media/mediatest"
)

func BenchmarkProbeDecode(b *testing.B) {
	for _, fx := range []string{mediatest.FixtureSilkNB, mediatest.FixtureSilkWB, mediatest.FixtureHybridFB, mediatest.FixtureCELT} {
		pkts := mediatest.OpusPackets(b, fx)
		for _, rate := range []int{8000, 16000, 48000} {
			b.Run(fmt.Sprintf("%s/%d", fx, rate), func(b *testing.B) {
				dec, _ := opus.NewDecoderWithOutput(rate, 1)
				buf := make([]int16, 5760)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, err := dec.DecodeToInt16(pkts[i%len(pkts)], buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
