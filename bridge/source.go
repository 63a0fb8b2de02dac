package bridge

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"golang.org/x/time/rate"
)

// Who may talk SIP to the bridge, and how much it answers
// (docs/SECURITY.md, "SIP and RTP").

// guard drops every request whose source is neither the trunk nor in
// sip.allowed_sources, without a response: a scanner or a stranger who
// learned a Call-ID gets nothing, and the bridge reflects nothing.
func (b *Bridge) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		ip := sourceIP(req)
		if !ip.IsValid() || !b.trustedSignalling(ip) {
			b.metrics.sipDropped.Inc()
			b.log.Debug("SIP request from an unknown source dropped", "method", req.Method.String(), "source", req.Source())
			return
		}
		h(req, tx)
	}
}

// respond sends a final response unless the source has used up its share.
func (b *Bridge) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	if !b.responses.allow(sourceIP(req)) {
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}

func sourceIP(msg sip.Message) netip.Addr {
	ap, err := netip.ParseAddrPort(msg.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// trustedSignalling says whether SIP from ip is the trunk's or allowed.
func (b *Bridge) trustedSignalling(ip netip.Addr) bool {
	if _, ok := b.trunkIPs.Load(ip); ok {
		return true
	}
	for _, p := range b.allowedSources {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// trustedSource says whether RTP from ip may move a call's stream off its
// SDP address: the trunk's signalling addresses and sip.media_networks.
func (b *Bridge) trustedSource(ip netip.Addr) bool {
	if _, ok := b.trunkIPs.Load(ip); ok {
		return true
	}
	for _, p := range b.mediaNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// learnTrunkHost adds the addresses the trunk's host name resolves to. A
// literal IP is itself.
func (b *Bridge) learnTrunkHost(host string) {
	if ip, err := netip.ParseAddr(host); err == nil {
		b.trunkIPs.Store(ip.Unmap(), true)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		b.log.Warn("trunk host does not resolve; its addresses are learned from its responses", "host", host, "error", err)
		return
	}
	for _, a := range addrs {
		b.trunkIPs.Store(a.Unmap(), true)
	}
}

// learnTrunkSource adds the source of a response to one of the bridge's
// own requests: sipgo matched it to a client transaction, so it answers
// for the trunk (a DNS round robin, a proxy's other node).
func (b *Bridge) learnTrunkSource(res *sip.Response) {
	if ip := sourceIP(res); ip.IsValid() {
		b.trunkIPs.Store(ip, true)
	}
}

// Responses to out-of-dialog requests (OPTIONS, 481s, 405s) per source.
const (
	responsesPerSecond = 20
	responsesBurst     = 40
	sourcesTracked     = 4096
)

// sourceLimiter is a token bucket per source IP, forgetting all sources
// when it tracks too many (a spoofed flood cannot grow it without bound).
type sourceLimiter struct {
	every rate.Limit
	burst int

	mu   sync.Mutex
	byIP map[netip.Addr]*rate.Limiter // guarded by mu
}

func newSourceLimiter(perSecond float64, burst int) *sourceLimiter {
	return &sourceLimiter{every: rate.Limit(perSecond), burst: burst, byIP: map[netip.Addr]*rate.Limiter{}}
}

func (s *sourceLimiter) allow(ip netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.byIP[ip]
	if !ok {
		if len(s.byIP) >= sourcesTracked {
			clear(s.byIP)
		}
		l = rate.NewLimiter(s.every, s.burst)
		s.byIP[ip] = l
	}
	return l.Allow()
}
