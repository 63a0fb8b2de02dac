package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/callbridge/callbridge/media"
)

// portAllocator hands out RTP/RTCP port pairs (an even port and the odd
// one above it, RFC 3550 §11) from sip.rtp_ports, at random: a port
// nobody can predict is one nobody can spray at while a call rings.
type portAllocator struct {
	ip     netip.Addr
	lo, hi int // even bounds of the RTP ports
}

func newPortAllocator(ip netip.Addr, lo, hi int) *portAllocator {
	if lo%2 == 1 {
		lo++
	}
	if hi%2 == 1 {
		hi--
	}
	return &portAllocator{ip: ip, lo: lo, hi: hi}
}

var errNoRTPPort = errors.New("no free RTP port in sip.rtp_ports")

// listen binds a free pair: random picks first, then a scan from a random
// start so a nearly full range still finds its last free pair.
func (p *portAllocator) listen() (rtpConn, rtcpConn *net.UDPConn, err error) {
	n := (p.hi-p.lo)/2 + 1
	if n <= 0 {
		return nil, nil, errNoRTPPort
	}
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		k := rand.IntN(n)
		if i >= 8 {
			k = (start + i) % n
		}
		port := p.lo + 2*k
		rc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			continue
		}
		cc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
		if err != nil {
			_ = rc.Close()
			continue
		}
		return rc, cc, nil
	}
	return nil, nil, errNoRTPPort
}

// mediaSession is the SIP leg's media: its RTP and RTCP sockets, the
// source policy, its counters and its read loops. It is the leg's media in
// (SetIn) and media out (HandleRTP).
//
// Source policy (docs/SECURITY.md, "SIP and RTP"): nothing is accepted or
// sent before the far end's SDP names an address. Then packets from that
// address are accepted and RTP goes there. Symmetric RTP (RFC 4961) may
// move the stream, once per SDP, to another source only when that source
// has the SDP's IP (a NAT changed the port) or is trusted: the IP the
// trunk's SIP signalling comes from, or a configured media network. Any
// other source is counted as foreign and never heard or sent to.
type mediaSession struct {
	rtp, rtcp *net.UDPConn
	log       *slog.Logger
	trusted   func(netip.Addr) bool
	wg        sync.WaitGroup

	sdp     atomic.Pointer[netip.AddrPort] // the far end's SDP address; nil until known
	remote  atomic.Pointer[netip.AddrPort] // where RTP goes and comes from now
	latched atomic.Bool                    // moved off the SDP address since the last SDP
	rtcpTo  atomic.Pointer[netip.AddrPort] // where RTCP goes: port+1, or the RTP port with rtcp-mux

	rtcpMux atomic.Bool // RTCP shares the RTP port (RFC 5761)

	demux    media.Demux
	lastRecv atomic.Int64 // unix nanos of the last accepted RTP packet
	rtcpSt   rtcpState
	// lastForeign is the last source the policy refused.
	lastForeign atomic.Pointer[foreignSource]
	cname       string        // our RTCP CNAME (RFC 3550 §6.5.1)
	rtcpSSRC    uint32        // our SSRC in reports before we sent any RTP
	interval    time.Duration // the RTCP report interval
	tl          *timeline     // the call's timeline; nil in tests
	stop        chan struct{} // closed by Close: ends the report loop

	wmu  sync.Mutex
	wbuf [1500]byte // guarded by wmu

	sent, recv, foreign, bad, rtcpRecv atomic.Uint64
}

// foreignSource is a refused RTP source and when it was last seen.
type foreignSource struct {
	src netip.AddrPort
	at  time.Time
}

func newMediaSession(rtpConn, rtcpConn *net.UDPConn, trusted func(netip.Addr) bool, rtcpInterval time.Duration, tl *timeline, log *slog.Logger) *mediaSession {
	if trusted == nil {
		trusted = func(netip.Addr) bool { return false }
	}
	if rtcpInterval <= 0 {
		rtcpInterval = DefaultRTCPInterval
	}
	s := &mediaSession{rtp: rtpConn, rtcp: rtcpConn, trusted: trusted, log: log, tl: tl,
		interval: rtcpInterval, stop: make(chan struct{}), rtcpSSRC: rand.Uint32(),
		cname: fmt.Sprintf("callbridge-%08x", rand.Uint32())}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sendReports()
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.readRTP()
	}()
	if rtcpConn != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.readRTCP()
		}()
	}
	return s
}

func (s *mediaSession) localAddr() netip.AddrPort {
	return s.rtp.LocalAddr().(*net.UDPAddr).AddrPort()
}

// setSDP takes the far end's SDP (an answer, a 183, a re-INVITE): RTP
// goes to its address, and one move by symmetric RTP is allowed again.
// RTCP goes to the RTP port with rtcp-mux (RFC 5761), to a=rtcp's port
// (RFC 3605), else to the RTP port + 1 (RFC 3550 §11). An unspecified
// address or port 0 (a hold) changes nothing: nothing is ever sent there.
func (s *mediaSession) setSDP(rm remoteMedia) {
	a := netip.AddrPortFrom(rm.Addr.Addr().Unmap(), rm.Addr.Port())
	if !a.IsValid() || a.Addr().IsUnspecified() || a.Port() == 0 {
		return
	}
	to := netip.AddrPortFrom(a.Addr(), a.Port()+1)
	switch {
	case rm.RTCPMux:
		to = a
	case rm.RTCPPort != 0:
		to = netip.AddrPortFrom(a.Addr(), rm.RTCPPort)
	}
	s.rtcpTo.Store(&to)
	s.rtcpMux.Store(rm.RTCPMux)
	if cur := s.sdp.Load(); cur != nil && *cur == a {
		return
	}
	s.sdp.Store(&a)
	s.remote.Store(&a)
	s.latched.Store(false)
}

// SetIn routes the far end's audio (and telephone-events) onward.
func (s *mediaSession) setAudio(pt uint8, h media.RTPHandler) { s.demux.SetAudio(pt, h) }
func (s *mediaSession) setDTMF(pt uint8, h media.RTPHandler)  { s.demux.SetDTMF(pt, h) }

// HandleRTP sends one packet to the far end.
func (s *mediaSession) HandleRTP(h *rtp.Header, payload []byte) error {
	dst := s.remote.Load()
	if dst == nil {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n, err := h.MarshalTo(s.wbuf[:])
	if err != nil {
		return fmt.Errorf("rtp: marshal header: %w", err)
	}
	if n+len(payload) > len(s.wbuf) {
		return fmt.Errorf("rtp: packet of %d bytes too large", n+len(payload))
	}
	copy(s.wbuf[n:], payload)
	if _, err := s.rtp.WriteToUDPAddrPort(s.wbuf[:n+len(payload)], *dst); err != nil {
		return err
	}
	s.sent.Add(1)
	s.rtcpSt.sent(h, len(payload), time.Now())
	return nil
}

func (s *mediaSession) String() string { return "udp(" + s.localAddr().String() + ")" }

// accept applies the source policy to a packet from src.
func (s *mediaSession) accept(src netip.AddrPort) bool {
	if cur := s.remote.Load(); cur != nil && *cur == src {
		return true
	}
	sdp := s.sdp.Load()
	if sdp == nil || s.latched.Load() {
		return false
	}
	if src.Addr() != sdp.Addr() && !s.trusted(src.Addr()) {
		return false
	}
	if !s.latched.CompareAndSwap(false, true) {
		return false
	}
	s.remote.Store(&src)
	s.log.Info("rtp latched", "sdp", sdp.String(), "source", src.String())
	s.tl.note("media", "the trunk's RTP comes from "+src.String()+", not its SDP's "+sdp.String()+": the bridge sends there now (symmetric RTP)")
	return true
}

// readRTP reads the far end's RTP until the socket is closed.
func (s *mediaSession) readRTP() {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, src, err := s.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if n >= 2 && buf[1] >= 192 && buf[1] <= 223 {
			// RTCP on the RTP port (rtcp-mux, RFC 5761 §4).
			s.handleRTCP(buf[:n], src, false)
			continue
		}
		if !s.accept(src) {
			// Kept per new source, and refreshed once a second of packets.
			n := s.foreign.Add(1)
			if f := s.lastForeign.Load(); f == nil || f.src != src || n%50 == 0 {
				s.lastForeign.Store(&foreignSource{src: src, at: time.Now()})
				if f == nil || f.src != src {
					s.tl.note("media", "RTP from "+src.String()+" refused: not the trunk's media address")
				}
			}
			continue
		}
		hn, err := h.Unmarshal(buf[:n])
		if err != nil || h.Version != 2 {
			s.bad.Add(1)
			continue
		}
		now := time.Now()
		s.recv.Add(1)
		s.lastRecv.Store(now.UnixNano())
		s.rtcpSt.recordReceived(&h, now)
		payload := buf[hn:n]
		if h.Padding && len(payload) > 0 {
			pad := int(payload[len(payload)-1])
			if pad > len(payload) {
				s.bad.Add(1)
				continue
			}
			payload = payload[:len(payload)-pad]
		}
		if err := media.HandleSafely(&s.demux, &h, payload); err != nil {
			s.bad.Add(1)
		}
	}
}

// readRTCP reads the far end's RTCP until the socket is closed.
func (s *mediaSession) readRTCP() {
	buf := make([]byte, 1500)
	for {
		n, src, err := s.rtcp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.handleRTCP(buf[:n], netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), true)
	}
}

// handleRTCP takes a compound RTCP packet (RFC 3550 §6.1) from the far
// end's media IP into the RTCP state (its reports on our stream). RTCP on its own
// port is symmetric (RFC 4961): our reports go back where the trunk's
// come from.
func (s *mediaSession) handleRTCP(b []byte, src netip.AddrPort, ownPort bool) {
	cur := s.remote.Load()
	if cur == nil || cur.Addr() != src.Addr() {
		s.foreign.Add(1)
		return
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		s.bad.Add(1)
		return
	}
	if s.rtcpRecv.Add(1) == 1 {
		s.tl.note("rtcp", "first RTCP from the trunk, from "+src.String())
	}
	s.rtcpSt.takeRTCP(pkts, time.Now())
	if ownPort && !s.rtcpMux.Load() {
		if to := s.rtcpTo.Load(); to == nil || *to != src {
			s.rtcpTo.Store(&src)
		}
	}
}

// sendReports sends our SR or RR to the trunk every interval (RFC 3550
// §6.2, §6.3) until Close.
func (s *mediaSession) sendReports() {
	for {
		t := time.NewTimer(jitteredInterval(s.interval))
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		s.sendReport()
	}
}

func (s *mediaSession) sendReport() {
	to := s.rtcpTo.Load()
	if to == nil {
		return
	}
	b, err := rtcp.Marshal(s.rtcpSt.report(time.Now(), s.cname, s.rtcpSSRC))
	if err != nil {
		s.log.Warn("rtcp: marshal report", "error", err)
		return
	}
	conn := s.rtcp
	if conn == nil || s.rtcpMux.Load() {
		conn = s.rtp
	}
	_, _ = conn.WriteToUDPAddrPort(b, *to)
}

// rtcpInfo is what the trunk's RTCP says about our stream.
func (s *mediaSession) rtcpInfo() TrunkRTCP { return s.rtcpSt.snapshot() }

// Close closes both sockets and waits for the read loops to end.
func (s *mediaSession) Close() error {
	close(s.stop)
	err := s.rtp.Close()
	if s.rtcp != nil {
		err = errors.Join(err, s.rtcp.Close())
	}
	s.wg.Wait()
	return err
}
