package bridge

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

type countHandler struct{ n atomic.Int64 }

func (c *countHandler) HandleRTP(*rtp.Header, []byte) error { c.n.Add(1); return nil }
func (c *countHandler) String() string                      { return "count" }

// newTestSession is a media session on 127.0.0.1 whose trusted sources
// (the trunk's SIP addresses) are trusted.
func newTestSession(t *testing.T, trusted ...string) (*mediaSession, *countHandler, netip.AddrPort) {
	t.Helper()
	ports := newPortAllocator(netip.MustParseAddr("127.0.0.1"), 41000, 41999)
	rc, cc, err := ports.listen()
	require.NoError(t, err)
	isTrusted := func(ip netip.Addr) bool {
		for _, s := range trusted {
			if ip == netip.MustParseAddr(s) {
				return true
			}
		}
		return false
	}
	s := newMediaSession(rc, cc, isTrusted, 50*time.Millisecond, &timeline{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h := &countHandler{}
	s.setAudio(0, h)
	t.Cleanup(func() { _ = s.Close() })
	return s, h, s.localAddr()
}

func sender(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func sendRTP(t *testing.T, from *net.UDPConn, to netip.AddrPort, seq uint16) {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 7}, Payload: make([]byte, 160)}).Marshal()
	require.NoError(t, err)
	_, err = from.WriteToUDPAddrPort(b, to)
	require.NoError(t, err)
}

// received reports whether c gets a datagram within d.
func received(c *net.UDPConn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 1500)
	_, _, err := c.ReadFromUDPAddrPort(buf)
	return err == nil
}

func TestPortsAreRandomPairs(t *testing.T) {
	ports := newPortAllocator(netip.MustParseAddr("127.0.0.1"), 42001, 42999)
	var got []int
	for range 12 {
		rc, cc, err := ports.listen()
		require.NoError(t, err)
		r, c := rc.LocalAddr().(*net.UDPAddr).Port, cc.LocalAddr().(*net.UDPAddr).Port
		assert.Zero(t, r%2, "RTP on an even port (RFC 3550 §11)")
		assert.Equal(t, r+1, c, "RTCP on the next port")
		assert.GreaterOrEqual(t, r, 42002)
		assert.LessOrEqual(t, c, 42999)
		got = append(got, r)
		t.Cleanup(func() { _ = rc.Close(); _ = cc.Close() })
	}
	ascending := true
	for i := 1; i < len(got); i++ {
		ascending = ascending && got[i] == got[i-1]+2
	}
	assert.False(t, ascending, "ports %v are handed out in order: a stranger can predict the next call's", got)
}

// A stranger who sprays RTP at a call's port before, while and after the
// trunk's SDP is known is never heard and never sent to.
func TestStrangerIsNeverLatched(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the session's Close
	s, h, local := newTestSession(t, "127.0.0.2")
	carrier := sender(t, "127.0.0.2")
	stranger := sender(t, "127.0.0.3")

	sendRTP(t, stranger, local, 1) // while the call rings: no SDP yet
	require.Eventually(t, func() bool { return s.foreign.Load() == 1 }, time.Second, 5*time.Millisecond)
	require.NoError(t, s.HandleRTP(&rtp.Header{Version: 2}, []byte{1}))
	assert.Zero(t, s.sent.Load(), "nothing is sent before the SDP names an address")

	s.setSDP(remoteMedia{Addr: addrOf(carrier)})
	sendRTP(t, stranger, local, 2)
	require.Eventually(t, func() bool { return s.foreign.Load() == 2 }, time.Second, 5*time.Millisecond)
	sendRTP(t, carrier, local, 3)
	require.Eventually(t, func() bool { return h.n.Load() == 1 }, time.Second, 5*time.Millisecond)
	sendRTP(t, stranger, local, 4)
	require.Eventually(t, func() bool { return s.foreign.Load() == 3 }, time.Second, 5*time.Millisecond)

	require.NoError(t, s.HandleRTP(&rtp.Header{Version: 2, SSRC: 9}, []byte{1}))
	assert.True(t, received(carrier, time.Second), "the carrier gets the agent's audio")
	assert.False(t, received(stranger, 100*time.Millisecond), "the stranger gets nothing")
	assert.Equal(t, int64(1), h.n.Load(), "only the carrier's packet reached the pipeline")
}

// The SDP names a private address (a carrier behind NAT): RTP may latch
// only to a trusted source, never to the first stranger.
func TestPrivateSDPLatchesOnlyToTrustedSource(t *testing.T) {
	s, h, local := newTestSession(t, "127.0.0.2", "127.0.0.4")
	carrier := sender(t, "127.0.0.2")
	stranger := sender(t, "127.0.0.3")
	other := sender(t, "127.0.0.4")
	s.setSDP(remoteMedia{Addr: netip.MustParseAddrPort("10.0.0.5:4000")})

	sendRTP(t, stranger, local, 1)
	require.Eventually(t, func() bool { return s.foreign.Load() == 1 }, time.Second, 5*time.Millisecond)
	assert.False(t, s.latched.Load(), "a stranger must not capture the latch")

	sendRTP(t, carrier, local, 2)
	require.Eventually(t, func() bool { return s.latched.Load() }, time.Second, 5*time.Millisecond)
	assert.Equal(t, addrOf(carrier), *s.remote.Load())

	sendRTP(t, other, local, 3) // a second trusted source mid-call: no re-latch
	require.Eventually(t, func() bool { return s.foreign.Load() == 2 }, time.Second, 5*time.Millisecond)
	assert.Equal(t, addrOf(carrier), *s.remote.Load())

	// A re-INVITE with a new address allows one new latch.
	s.setSDP(remoteMedia{Addr: netip.MustParseAddrPort("10.0.0.6:4002")})
	sendRTP(t, other, local, 4)
	require.Eventually(t, func() bool { return *s.remote.Load() == addrOf(other) && h.n.Load() == 2 }, time.Second, 5*time.Millisecond)
}

// The carrier's NAT changed the port of its public SDP address: the
// stream follows, once.
func TestSameIPOtherPortLatchesOnce(t *testing.T) {
	s, _, local := newTestSession(t)
	carrier := sender(t, "127.0.0.2")
	s.setSDP(remoteMedia{Addr: netip.MustParseAddrPort("127.0.0.2:4000")})
	sendRTP(t, carrier, local, 1)
	require.Eventually(t, func() bool { return s.latched.Load() }, time.Second, 5*time.Millisecond)
	assert.Equal(t, addrOf(carrier), *s.remote.Load())
	again := sender(t, "127.0.0.2")
	sendRTP(t, again, local, 2)
	require.Eventually(t, func() bool { return s.foreign.Load() == 1 }, time.Second, 5*time.Millisecond)
}

func TestGarbageAndFloodsAreCountedNotFatal(t *testing.T) {
	s, h, local := newTestSession(t)
	from := sender(t, "127.0.0.2")
	s.setSDP(remoteMedia{Addr: addrOf(from)})
	for i := 0; i < 200; i++ {
		_, err := from.WriteToUDPAddrPort(make([]byte, 1500), local) // not RTP (version 0)
		require.NoError(t, err)
	}
	_, _ = from.WriteToUDPAddrPort([]byte{0x80}, local) // truncated header
	// The flood may overrun the socket buffer; keep sending real RTP until
	// the session shows it is still alive.
	seq := uint16(0)
	require.Eventually(t, func() bool {
		seq++
		sendRTP(t, from, local, seq)
		return h.n.Load() >= 1
	}, 5*time.Second, 10*time.Millisecond)
	assert.Greater(t, s.bad.Load(), uint64(0))
}

// The far end's receiver reports arrive on the RTCP port (or the RTP port
// with rtcp-mux); a stranger's are ignored.
func TestRTCPReportsFromTheFarEndOnly(t *testing.T) {
	s, _, local := newTestSession(t)
	carrier := sender(t, "127.0.0.2")
	stranger := sender(t, "127.0.0.3")
	s.setSDP(remoteMedia{Addr: addrOf(carrier)})
	rtcpPort := netip.AddrPortFrom(local.Addr(), local.Port()+1)
	rr := func(lost uint8) []byte {
		b, err := (&rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{{SSRC: 9, FractionLost: lost, TotalLost: uint32(lost), Jitter: 80}}}).Marshal()
		require.NoError(t, err)
		return b
	}
	require.NoError(t, s.HandleRTP(&rtp.Header{Version: 2, SSRC: 9, SequenceNumber: 1}, []byte{1})) // our stream, SSRC 9
	_, err := stranger.WriteToUDPAddrPort(rr(200), rtcpPort)
	require.NoError(t, err)
	_, err = carrier.WriteToUDPAddrPort(rr(26), rtcpPort)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.rtcpSt.snapshot().HasReport }, time.Second, 5*time.Millisecond)
	assert.InDelta(t, 26*100.0/256, s.rtcpSt.snapshot().FractionLost, 0.01, "the carrier's report, not the stranger's")
	_, err = carrier.WriteToUDPAddrPort(rr(51), local) // rtcp-mux
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.rtcpSt.snapshot().FractionLost > 19 }, time.Second, 5*time.Millisecond)
	assert.Equal(t, uint64(2), s.rtcpRecv.Load())
	assert.Equal(t, uint64(2), s.rtcpSt.snapshot().Packets)
}
