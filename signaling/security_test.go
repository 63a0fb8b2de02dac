package signaling_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// strangerTone is what the stranger plays: never to be heard.
const strangerTone = 2500

// A stranger on another address sprays RTP at every port of sip.rtp_ports
// while the call rings and after it is answered. The agent never hears
// them, the stranger receives nothing, and the call's audio is intact
// both ways (docs/SECURITY.md, "SIP and RTP").
func TestStrangerSprayingRTPIsNeverHeard(t *testing.T) {
	const lo, hi = 21600, 21663
	e := newEnv(t, func(c *config.Config) { c.SIP.RTPPorts = "21600-21663" })
	stranger, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = stranger.Close() })

	var got atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { // anything sent to the stranger
		buf := make([]byte, 1500)
		for {
			if _, _, err := stranger.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			got.Add(1)
		}
	})
	wg.Go(func() { // the spray: every port, every 20 ms
		src := mediatest.NewToneSource(media.CodecPCMU, strangerTone, 0.8)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0x5eed}, Payload: src.Next()}
			b, _ := p.Marshal()
			for port := lo; port <= hi; port++ {
				_, _ = stranger.WriteToUDPAddrPort(b, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	t.Cleanup(func() { stop(); _ = stranger.Close(); wg.Wait() })

	c := e.client(t)
	talking(t, c)
	answeredCall(t, c) // the spray runs through the ringing
	hearsTrunk(t, c)
	pcm, _, _ := c.Received()
	assert.Less(t, mediatest.ToneAmplitude(pcm[len(pcm)-8000:], 8000, strangerTone), 0.02, "the stranger's tone reached the agent")
	rec := e.trunkHears(t)
	assert.Less(t, mediatest.ToneAmplitude(rec.Received[len(rec.Received)-8000:], 8000, strangerTone), 0.02)
	assert.Zero(t, got.Load(), "the bridge sent the stranger RTP")
}
