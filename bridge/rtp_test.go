package bridge

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type countHandler struct{ n atomic.Int64 }

func (c *countHandler) HandleRTP(*rtp.Header, []byte) error { c.n.Add(1); return nil }
func (c *countHandler) String() string                      { return "count" }

func newTestSession(t *testing.T) (*rtpSession, *countHandler, netip.AddrPort) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	s := newRTPSession(conn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h := &countHandler{}
	s.audioPT.Store(0)
	s.setHandler(h)
	go s.readLoop()
	t.Cleanup(func() { _ = s.close() })
	return s, h, s.localAddr()
}

func sender(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func sendRTP(t *testing.T, from *net.UDPConn, to netip.AddrPort, seq uint16) {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 7}, Payload: make([]byte, 160)}).Marshal()
	require.NoError(t, err)
	_, err = from.WriteToUDPAddrPort(b, to)
	require.NoError(t, err)
}

func TestLatchOnlyToTheSDPAddressWhenPublic(t *testing.T) {
	s, h, local := newTestSession(t)
	carrier := sender(t, "127.0.0.2")
	stranger := sender(t, "127.0.0.3")
	// The carrier's SDP names 127.0.0.2 on some port; strict latching.
	s.setRemote(netip.MustParseAddrPort("127.0.0.2:4000"), true)

	sendRTP(t, stranger, local, 1) // a flood before the carrier's first packet
	sendRTP(t, stranger, local, 2)
	require.Eventually(t, func() bool { return s.foreign.Load() == 2 }, time.Second, 5*time.Millisecond)
	assert.False(t, s.latched.Load(), "a stranger must not capture the latch")

	sendRTP(t, carrier, local, 3) // the carrier, from another port than its SDP's (a NAT)
	require.Eventually(t, func() bool { return s.latched.Load() }, time.Second, 5*time.Millisecond)
	assert.Equal(t, carrier.LocalAddr().(*net.UDPAddr).AddrPort(), *s.remote.Load())

	sendRTP(t, stranger, local, 4) // after the latch: still dropped
	require.Eventually(t, func() bool { return s.foreign.Load() == 3 }, time.Second, 5*time.Millisecond)
	assert.Equal(t, int64(1), h.n.Load(), "only the carrier's packet reached the pipeline")
}

func TestLatchOnceWhenTheSDPAddressIsPrivate(t *testing.T) {
	s, h, local := newTestSession(t)
	first := sender(t, "127.0.0.2")
	second := sender(t, "127.0.0.3")
	s.setRemote(netip.MustParseAddrPort("10.0.0.5:4000"), false) // carrier behind NAT

	sendRTP(t, first, local, 1)
	require.Eventually(t, func() bool { return s.latched.Load() }, time.Second, 5*time.Millisecond)
	sendRTP(t, second, local, 2) // a new source mid-call: no re-latch (RTP hijack)
	require.Eventually(t, func() bool { return s.foreign.Load() == 1 }, time.Second, 5*time.Millisecond)
	assert.Equal(t, first.LocalAddr().(*net.UDPAddr).AddrPort(), *s.remote.Load())

	// A re-INVITE with a new address allows one new latch.
	s.relatch(netip.MustParseAddrPort("10.0.0.6:4002"), false)
	sendRTP(t, second, local, 3)
	require.Eventually(t, func() bool {
		return s.latched.Load() && *s.remote.Load() == second.LocalAddr().(*net.UDPAddr).AddrPort()
	}, time.Second, 5*time.Millisecond)
	assert.Equal(t, int64(2), h.n.Load())
}

func TestGarbageAndFloodsAreCountedNotFatal(t *testing.T) {
	s, h, local := newTestSession(t)
	s.setRemote(netip.MustParseAddrPort("127.0.0.2:4000"), false)
	from := sender(t, "127.0.0.2")
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
