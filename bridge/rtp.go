package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/callbridge/callbridge/media"
)

// portAllocator hands out even UDP ports (RFC 3550 §11) from the
// sip.rtp_ports range, round robin so a just-freed port is not reused at once.
type portAllocator struct {
	ip     netip.Addr
	lo, hi int
	mu     sync.Mutex
	next   int // guarded by mu
}

func newPortAllocator(ip netip.Addr, lo, hi int) *portAllocator {
	if lo%2 == 1 {
		lo++
	}
	return &portAllocator{ip: ip, lo: lo, hi: hi, next: lo}
}

var errNoRTPPort = errors.New("no free RTP port in sip.rtp_ports")

func (p *portAllocator) listen() (*net.UDPConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := (p.hi-p.lo)/2 + 1
	for i := 0; i < n; i++ {
		port := p.next
		p.next += 2
		if p.next > p.hi {
			p.next = p.lo
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err == nil {
			return c, nil
		}
	}
	return nil, errNoRTPPort
}

// rtpSession is the SIP leg's RTP socket. It sends to the address in the
// trunk's SDP until the trunk's own RTP arrives, then latches to the source
// of that RTP once per call (symmetric RTP, RFC 4961) and ignores packets
// from any other source afterwards.
type rtpSession struct {
	conn *net.UDPConn
	log  *slog.Logger

	remote   atomic.Pointer[netip.AddrPort] // where RTP goes now
	latched  atomic.Bool
	expectIP atomic.Pointer[netip.Addr] // before latching, only RTP from this IP may latch; nil = any

	audioPT  atomic.Uint32 // negotiated audio payload type
	dtmfPT   atomic.Uint32 // negotiated telephone-event payload type, 0 = none
	handler  atomic.Pointer[handlerBox]
	dtmf     atomic.Pointer[handlerBox]
	lastRecv atomic.Int64 // unix nanos of the last accepted packet

	wmu  sync.Mutex
	wbuf [1500]byte // guarded by wmu

	sent, recv, foreign, bad, otherPT atomic.Uint64
}

type handlerBox struct{ h media.RTPHandler }

func newRTPSession(conn *net.UDPConn, log *slog.Logger) *rtpSession {
	return &rtpSession{conn: conn, log: log}
}

func (s *rtpSession) localAddr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// setRemote points RTP at the SDP address; a later SDP (200 after 183,
// re-INVITE) may re-target before latching. strict limits the latch to
// RTP from the SDP's IP: right for a public c= address, where only a NAT
// may change the port; a private or loopback c= (the carrier behind NAT)
// must latch to whatever address its RTP comes from.
func (s *rtpSession) setRemote(a netip.AddrPort, strict bool) {
	if !s.latched.Load() {
		s.remote.Store(&a)
		s.setExpect(a, strict)
	}
}

func (s *rtpSession) setExpect(a netip.AddrPort, strict bool) {
	if strict {
		ip := a.Addr().Unmap()
		s.expectIP.Store(&ip)
	} else {
		s.expectIP.Store(nil)
	}
}

func (s *rtpSession) setHandler(h media.RTPHandler) {
	if h == nil {
		s.handler.Store(nil)
		return
	}
	s.handler.Store(&handlerBox{h})
}

// HandleRTP sends one packet to the trunk.
func (s *rtpSession) HandleRTP(h *rtp.Header, payload []byte) error {
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
	if _, err := s.conn.WriteToUDPAddrPort(s.wbuf[:n+len(payload)], *dst); err != nil {
		return err
	}
	s.sent.Add(1)
	return nil
}

func (s *rtpSession) String() string { return "udp(" + s.localAddr().String() + ")" }

// readLoop reads the trunk's RTP until the socket is closed.
func (s *rtpSession) readLoop() {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, src, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if s.latched.Load() {
			if cur := s.remote.Load(); cur == nil || *cur != src {
				s.foreign.Add(1)
				continue
			}
		}
		hn, err := h.Unmarshal(buf[:n])
		if err != nil || h.Version != 2 {
			s.bad.Add(1)
			continue
		}
		if !s.latched.Load() {
			// Latch once per call or re-INVITE (symmetric RTP, RFC 4961),
			// and never to a stranger when the SDP named a public address.
			if want := s.expectIP.Load(); want != nil && *want != src.Addr() {
				s.foreign.Add(1)
				continue
			}
			s.remote.Store(&src)
			s.latched.Store(true)
			s.log.Debug("rtp latched", "remote", src.String())
		}
		s.recv.Add(1)
		s.lastRecv.Store(time.Now().UnixNano())
		payload := buf[hn:n]
		if h.Padding && len(payload) > 0 {
			pad := int(payload[len(payload)-1])
			if pad > len(payload) {
				s.bad.Add(1)
				continue
			}
			payload = payload[:len(payload)-pad]
		}
		var box *handlerBox
		switch pt := uint32(h.PayloadType); {
		case pt == s.audioPT.Load():
			box = s.handler.Load()
		case pt != 0 && pt == s.dtmfPT.Load():
			box = s.dtmf.Load()
		default:
			s.otherPT.Add(1) // comfort noise, an unnegotiated codec
			continue
		}
		if box == nil {
			continue
		}
		if err := media.HandleSafely(box.h, &h, payload); err != nil {
			s.bad.Add(1)
		}
	}
}

func (s *rtpSession) close() error { return s.conn.Close() }

// relatch re-targets RTP to a new SDP address (a 200 whose SDP differs
// from the 183's, or a re-INVITE) and allows one new latch.
func (s *rtpSession) relatch(a netip.AddrPort, strict bool) {
	s.setExpect(a, strict)
	s.remote.Store(&a)
	s.latched.Store(false)
}
