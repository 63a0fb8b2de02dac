package demotrunk

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With rtcp-mux agreed, the trunk reports on the caller's stream from its
// RTP port once a second: the caller's proof that its audio arrives.
func TestReceiverReportsWithRTCPMux(t *testing.T) {
	caller, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = caller.Close() })
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	o := offer{codec: CodecPCMU, pt: ptPCMU, eventPT: -1, direction: "sendrecv", rtcpMux: true,
		addr: caller.LocalAddr().(*net.UDPAddr).AddrPort()}
	m := newMedia(testLogger(t), conn, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	trunk := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(m.port()))
	for seq := uint16(100); seq < 120; seq++ {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: ptPCMU, SequenceNumber: seq, SSRC: 0xB0B}, Payload: make([]byte, 160)}).Marshal()
		require.NoError(t, err)
		_, err = caller.WriteToUDPAddrPort(b, trunk)
		require.NoError(t, err)
	}
	buf := make([]byte, 1500)
	deadline := time.Now().Add(5 * time.Second)
	for {
		require.True(t, time.Now().Before(deadline), "no receiver report from the trunk")
		_ = caller.SetReadDeadline(deadline)
		n, _, err := caller.ReadFromUDPAddrPort(buf)
		require.NoError(t, err)
		if buf[1] < 192 || buf[1] > 223 {
			continue // its RTP
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		require.NoError(t, err)
		rr, ok := pkts[0].(*rtcp.ReceiverReport)
		require.True(t, ok)
		require.Len(t, rr.Reports, 1)
		assert.Equal(t, uint32(0xB0B), rr.Reports[0].SSRC)
		assert.Equal(t, uint32(119), rr.Reports[0].LastSequenceNumber)
		assert.Equal(t, uint32(0), rr.Reports[0].TotalLost)
		return
	}
}
