package media_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// TestChain asserts the stage chain of every codec pair the bridge can
// negotiate, so a missing or extra stage is a string mismatch.
func TestChain(t *testing.T) {
	out := &mediatest.RTPRecorder{Name: "udp"}
	tests := []struct {
		name string
		new  func() (interface{ String() string }, error)
		want string
	}{
		{"Opus->PCMU", func() (interface{ String() string }, error) {
			return media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU}, out)
		}, "RTPStats -> Reorder(3) -> OpusDecode(NB 8000 | WB+ 16000 -> Resample(16000->8000)) -> PLC(8000) -> Level -> PCMU -> Packetize(20ms) -> udp"},
		{"Opus->PCMA", func() (interface{ String() string }, error) {
			return media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMA}, out)
		}, "RTPStats -> Reorder(3) -> OpusDecode(NB 8000 | WB+ 16000 -> Resample(16000->8000)) -> PLC(8000) -> Level -> PCMA -> Packetize(20ms) -> udp"},
		{"Opus->PCMU 40ms", func() (interface{ String() string }, error) {
			return media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU, Ptime: 40e6}, out)
		}, "RTPStats -> Reorder(3) -> OpusDecode(NB 8000 | WB+ 16000 -> Resample(16000->8000)) -> PLC(8000) -> Level -> PCMU -> Packetize(40ms) -> udp"},
		{"PCMU->PCMU", func() (interface{ String() string }, error) {
			return media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMU, Out: media.CodecPCMU}, out)
		}, "RTPStats -> Reorder(3) -> PCMU -> Packetize(20ms) -> udp"},
		{"PCMA->PCMA", func() (interface{ String() string }, error) {
			return media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMA, Out: media.CodecPCMA}, out)
		}, "RTPStats -> Reorder(3) -> PCMA -> Packetize(20ms) -> udp"},
		{"PCMA->PCMU", func() (interface{ String() string }, error) {
			return media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMA, Out: media.CodecPCMU}, out)
		}, "RTPStats -> Reorder(3) -> PCMA->PCMU -> Packetize(20ms) -> udp"},
		{"PCMU->PCMA", func() (interface{ String() string }, error) {
			return media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMU, Out: media.CodecPCMA}, out)
		}, "RTPStats -> Reorder(3) -> PCMU->PCMA -> Packetize(20ms) -> udp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.new()
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.String())
		})
	}
}
