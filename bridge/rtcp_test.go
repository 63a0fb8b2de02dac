package bridge

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readReport waits for the bridge's next compound RTCP packet on c that
// satisfies ok.
func readReport(t *testing.T, c *net.UDPConn, ok func([]rtcp.Packet) bool) ([]rtcp.Packet, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1500)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		_ = c.SetReadDeadline(deadline)
		n, src, err := c.ReadFromUDPAddrPort(buf)
		require.NoError(t, err, "no RTCP from the bridge")
		pkts, err := rtcp.Unmarshal(buf[:n])
		require.NoError(t, err)
		if ok(pkts) {
			return pkts, src
		}
	}
	t.Fatal("no matching RTCP from the bridge")
	return nil, netip.AddrPort{}
}

// The SIP leg reports on the trunk's stream (loss, highest sequence
// number) in SRs sent to the trunk's a=rtcp port, with its CNAME; it reads
// the trunk's RR about its own stream (delivery, loss, RTT), and notices a
// report that leaves its stream out: the trunk receives none of it.
func TestRTCPBothWaysWithRealSockets(t *testing.T) {
	s, _, local := newTestSession(t)
	carrierRTP := sender(t, "127.0.0.1")
	carrierRTCP := sender(t, "127.0.0.1")
	s.setSDP(remoteMedia{Addr: addrOf(carrierRTP), RTCPPort: addrOf(carrierRTCP).Port()})

	// The carrier sends 100 packets of which 10 are lost on the way.
	for seq := uint16(1000); seq < 1100; seq++ {
		if seq%10 == 3 {
			continue
		}
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xCAFE}, Payload: make([]byte, 160)}).Marshal()
		require.NoError(t, err)
		_, err = carrierRTP.WriteToUDPAddrPort(b, local)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return s.recv.Load() == 90 }, 5*time.Second, 5*time.Millisecond)
	// The bridge sends 20 packets of its own.
	for seq := uint16(1); seq <= 20; seq++ {
		require.NoError(t, s.HandleRTP(&rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xB0B}, make([]byte, 160)))
	}

	var sr *rtcp.SenderReport
	pkts, from := readReport(t, carrierRTCP, func(p []rtcp.Packet) bool {
		x, ok := p[0].(*rtcp.SenderReport)
		return ok && len(x.Reports) == 1 && x.PacketCount == 20
	})
	sr = pkts[0].(*rtcp.SenderReport)
	assert.Equal(t, local.Port()+1, from.Port(), "RTCP comes from the odd port above RTP")
	assert.Equal(t, uint32(0xB0B), sr.SSRC)
	assert.Equal(t, uint32(20*160), sr.OctetCount)
	block := sr.Reports[0]
	assert.Equal(t, uint32(0xCAFE), block.SSRC)
	assert.Equal(t, uint32(1099), block.LastSequenceNumber)
	assert.Equal(t, uint32(10), block.TotalLost)
	// (FractionLost covers the interval since the previous report, which
	// may already have counted the loss.)
	require.Len(t, pkts, 2)
	_, isSDES := pkts[1].(*rtcp.SourceDescription)
	assert.True(t, isSDES, "compound packets carry SDES CNAME (RFC 3550 §6.1)")

	// The carrier's RR about our stream: all received, LSR/DLSR for RTT.
	rr := &rtcp.ReceiverReport{SSRC: 0xCAFE, Reports: []rtcp.ReceptionReport{{
		SSRC: 0xB0B, FractionLost: 64, TotalLost: 5, LastSequenceNumber: 20, Jitter: 160,
		LastSenderReport: uint32(sr.NTPTime >> 16), Delay: 0,
	}}}
	b, err := rtcp.Marshal([]rtcp.Packet{rr})
	require.NoError(t, err)
	_, err = carrierRTCP.WriteToUDPAddrPort(b, from)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.rtcpInfo().HasReport }, 5*time.Second, 5*time.Millisecond)
	info := s.rtcpInfo()
	assert.True(t, info.Receiving)
	assert.Equal(t, 25.0, info.FractionLost)
	assert.Equal(t, int64(5), info.TotalLost)
	assert.Equal(t, 20.0, info.JitterMs)
	require.NotNil(t, info.RTTMs)
	assert.GreaterOrEqual(t, *info.RTTMs, 0.0)
	assert.Less(t, *info.RTTMs, 5000.0)

	// Our RTP keeps going; the carrier's next RR leaves our SSRC out.
	for seq := uint16(21); seq <= 40; seq++ {
		require.NoError(t, s.HandleRTP(&rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 0xB0B}, make([]byte, 160)))
	}
	b, err = rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0xCAFE}})
	require.NoError(t, err)
	_, err = carrierRTCP.WriteToUDPAddrPort(b, from)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !s.rtcpInfo().Receiving }, 5*time.Second, 5*time.Millisecond)

	// A report whose highest sequence number trails what we sent by more
	// than a second of packets: the trunk stopped receiving us.
	for seq := uint16(41); seq <= 140; seq++ {
		require.NoError(t, s.HandleRTP(&rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 0xB0B}, make([]byte, 160)))
	}
	rr.Reports[0].LastSequenceNumber = 40
	b, err = rtcp.Marshal([]rtcp.Packet{rr})
	require.NoError(t, err)
	_, err = carrierRTCP.WriteToUDPAddrPort(b, from)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.rtcpInfo().Lag == 100 }, 5*time.Second, 5*time.Millisecond)
	assert.False(t, s.rtcpInfo().Receiving)
}

// With rtcp-mux the reports share the RTP port both ways (RFC 5761).
func TestRTCPMux(t *testing.T) {
	s, _, local := newTestSession(t)
	carrier := sender(t, "127.0.0.1")
	s.setSDP(remoteMedia{Addr: addrOf(carrier), RTCPMux: true})
	_, from := readReport(t, carrier, func(p []rtcp.Packet) bool { _, ok := p[0].(*rtcp.ReceiverReport); return ok })
	assert.Equal(t, local, from)
}
