package demotrunk

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSequenceDoesNotAdvanceWhileNotSending: while the trunk sends nothing
// (the caller holds it: a sendonly offer makes it recvonly), the RTP
// sequence number must stay put, because it counts packets sent (RFC 3550
// §5.1) and a receiver counts a gap in it as loss; the timestamp keeps
// following the clock, and the first packet after the pause carries the
// marker bit (RFC 3551 §4.1).
func TestSequenceDoesNotAdvanceWhileNotSending(t *testing.T) {
	peer := newRTPPeer(t)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	o := offer{codec: CodecPCMU, pt: ptPCMU, eventPT: -1, direction: "sendrecv",
		addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(peer.port()))}
	m := newMedia(testLogger(t), conn, o)
	m.play(sourceTone, 440)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	packets := func() int {
		_, hdrs, _ := peer.snapshot()
		return len(hdrs)
	}
	require.Eventually(t, func() bool { return packets() >= 10 }, 5*time.Second, 5*time.Millisecond)

	hold := o
	hold.direction = "sendonly" // the caller only sends: the trunk is silent
	m.update(hold)
	time.Sleep(2 * frameDuration) // let a frame in flight land
	before := packets()
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, before, packets(), "the trunk sent while held")

	m.update(o)
	require.Eventually(t, func() bool { return packets() >= before+10 }, 5*time.Second, 5*time.Millisecond)

	_, hdrs, _ := peer.snapshot()
	var resumed []int
	for i := 1; i < len(hdrs); i++ {
		prev, cur := hdrs[i-1], hdrs[i]
		assert.Equal(t, prev.SequenceNumber+1, cur.SequenceNumber, "packet %d: sequence must be dense across the pause", i)
		step := cur.Timestamp - prev.Timestamp
		if step != frameSamples {
			resumed = append(resumed, i)
			// At least the 300 ms pause (2400 samples) in timestamp units.
			assert.GreaterOrEqual(t, step, uint32(300*sampleRate/1000), "packet %d: timestamp follows the clock across the pause", i)
			assert.True(t, cur.Marker, "packet %d: first after the pause starts a talkspurt", i)
		} else {
			assert.False(t, cur.Marker, "packet %d: marker only on a new talkspurt", i)
		}
	}
	assert.Len(t, resumed, 1, "one pause in the stream: %v", summarize(hdrs))
}

func summarize(hdrs []rtp.Header) []string {
	out := make([]string, len(hdrs))
	for i, h := range hdrs {
		out[i] = fmt.Sprintf("seq=%d ts=%d marker=%v", h.SequenceNumber, h.Timestamp, h.Marker)
	}
	return out
}
