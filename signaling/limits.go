package signaling

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"golang.org/x/time/rate"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
)

// Error codes of the per-seat limits (signaling.md, "Error codes").
const (
	CodeTooManySessions    = "too_many_sessions"
	CodeTooManyCandidates  = "too_many_candidates"
	CodeCandidateRefused   = "candidate_refused"
	CodeStatsRateLimited   = "stats_rate_limited"
	CodeStatsTooLarge      = "stats_too_large"
	CodeRequestRateLimited = "request_rate_limited"
	CodeTokenRevoked       = "token_revoked"
)

// CloseTooMany closes a socket refused by a cap (too_many_sessions).
const CloseTooMany = 4429

// openSession admits an authenticated hello: a revoked or replayed token
// is refused (unauthorized), a seat at limits.sessions_per_seat too
// (too_many_sessions); else the session is created and registered.
func (s *Server) openSession(sa *bridge.SeatAuth, client *ClientInfo) (*Session, error) {
	if g := s.opts.Tokens; g != nil && sa.Token != nil {
		if err := g.Check(sa.Token, true); err != nil {
			return nil, &ProtocolError{Code: CodeUnauthorized, Msg: err.Error()}
		}
	}
	s.admit.Lock()
	defer s.admit.Unlock()
	if max := s.opts.Limits.SessionsPerSeat; max > 0 {
		s.mu.Lock()
		n := 0
		for _, ss := range s.sessions {
			if ss.seatID == sa.Seat.ID {
				n++
			}
		}
		s.mu.Unlock()
		if n >= max {
			return nil, &ProtocolError{Code: CodeTooManySessions,
				Msg: fmt.Sprintf("seat %s already has %d sessions open (limits.sessions_per_seat); close another tab or wait for it to end", sa.Seat.ID, n)}
		}
	}
	return s.newSession(sa, client), nil
}

// admitResume refuses a resume with a revoked token.
func (s *Server) admitResume(sa *bridge.SeatAuth) error {
	if g := s.opts.Tokens; g != nil && sa.Token != nil {
		if err := g.Check(sa.Token, false); err != nil {
			return err
		}
	}
	return nil
}

// closeRevoked ends every session whose token is now revoked, with
// token_revoked; its calls end with it.
func (s *Server) closeRevoked() {
	g := s.opts.Tokens
	if g == nil {
		return
	}
	for _, sess := range s.Sessions() {
		sess.mu.Lock()
		sa := sess.auth
		sess.mu.Unlock()
		if sa == nil || sa.Token == nil {
			continue
		}
		if err := g.Check(sa.Token, false); err != nil && errors.Is(err, auth.ErrTokenRevoked) {
			sess.log.Info("token revoked: closing the session", "error", err)
			sess.sendError("", "", CodeTokenRevoked, err.Error())
			sess.terminateWith(CloseUnauthorized, "token revoked")
		}
	}
}

// sessionLimits are one session's counters and rate limiters.
type sessionLimits struct {
	candidates int                      // trickled so far; guarded by Session.mu
	requests   *rate.Limiter            // hold, dtmf; nil = no cap
	stats      map[string]*rate.Limiter // per call; guarded by Session.mu
	past       map[string]bool          // ended calls of this session; guarded by Session.mu
}

func newSessionLimits(l config.Limits) sessionLimits {
	sl := sessionLimits{stats: map[string]*rate.Limiter{}, past: map[string]bool{}}
	if l.RequestsPerSecond > 0 {
		sl.requests = rate.NewLimiter(rate.Limit(l.RequestsPerSecond), 2*l.RequestsPerSecond)
	}
	return sl
}

// allowRequest takes one in-call request (hold, dtmf) from the session's
// budget; false after telling the client request_rate_limited.
func (s *Session) allowRequest(msg Inbound) bool {
	if s.lim.requests == nil || s.lim.requests.Allow() {
		return true
	}
	s.sendError(msg.RequestID, msg.CallID, CodeRequestRateLimited,
		fmt.Sprintf("more than %d in-call requests a second (limits.requests_per_second); nothing was sent", s.srv.opts.Limits.RequestsPerSecond))
	return false
}

// countCandidates adds n candidates to the session's count; false after
// telling the client too_many_candidates.
func (s *Session) countCandidates(n int) bool {
	max := s.srv.opts.Limits.CandidatesPerSession
	s.mu.Lock()
	over := max > 0 && s.lim.candidates+n > max
	if !over {
		s.lim.candidates += n
	}
	s.mu.Unlock()
	if over {
		s.sendError("", "", CodeTooManyCandidates, fmt.Sprintf("more than %d candidates in this session (limits.candidates_per_session)", max))
	}
	return !over
}

// checkCandidate applies the candidate policy; false after telling the
// client candidate_refused.
func (s *Session) checkCandidate(cand string) bool {
	if err := s.srv.opts.CandidatePolicy.Check(cand); err != nil {
		s.log.Info("candidate refused", "error", err)
		s.sendError("", "", CodeCandidateRefused, err.Error())
		return false
	}
	return true
}

// filterOffer drops the offer's a=candidate lines the policy refuses and
// counts the rest toward the session's cap; false (after an error) when
// the cap is exceeded.
func (s *Session) filterOffer(sdp string) (string, bool) {
	var out strings.Builder
	n := 0
	sc := bufio.NewScanner(strings.NewReader(sdp))
	sc.Buffer(make([]byte, 0, 4096), MaxFrame)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "a=candidate:") {
			if !s.checkCandidate(strings.TrimPrefix(line, "a=")) {
				continue
			}
			n++
		}
		out.WriteString(line)
		out.WriteString("\r\n")
	}
	if n > 0 && !s.countCandidates(n) {
		return "", false
	}
	return out.String(), true
}

// acceptStats keeps a stats upload of one of the session's own calls
// within limits.stats_max_bytes and limits.stats_per_minute; false after
// telling the client why not.
func (s *Session) acceptStats(msg Inbound, size int) bool {
	l := s.srv.opts.Limits
	if l.StatsMaxBytes > 0 && size > l.StatsMaxBytes {
		s.sendError(msg.RequestID, msg.CallID, CodeStatsTooLarge, fmt.Sprintf("stats of %d bytes; at most %d (limits.stats_max_bytes)", size, l.StatsMaxBytes))
		return false
	}
	s.mu.Lock()
	own := msg.CallID != "" && (s.calls[msg.CallID] || s.lim.past[msg.CallID])
	var lim *rate.Limiter
	if own && l.StatsPerMinute > 0 {
		lim = s.lim.stats[msg.CallID]
		if lim == nil {
			lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(l.StatsPerMinute)), max(1, l.StatsPerMinute/4))
			s.lim.stats[msg.CallID] = lim
		}
	}
	s.mu.Unlock()
	switch {
	case !own:
		s.sendError(msg.RequestID, msg.CallID, CodeUnknownCall, "stats may only be sent for this session's own calls")
		return false
	case lim != nil && !lim.Allow():
		s.sendError(msg.RequestID, msg.CallID, CodeStatsRateLimited, fmt.Sprintf("more than %d stats uploads a minute for this call (limits.stats_per_minute)", l.StatsPerMinute))
		return false
	}
	return true
}

// callEnded remembers an ended call so late stats for it are still its
// own; the memory is bounded.
func (s *Session) callEnded(id string) {
	if len(s.lim.past) >= 64 {
		clear(s.lim.past)
	}
	s.lim.past[id] = true
	delete(s.lim.stats, id)
}

// CandidatePolicy decides which addresses in a client's ICE candidates
// the bridge may send STUN to: never link-local, multicast, unspecified or
// host names other than mDNS .local names; loopback and the bridge host's
// own addresses only when allowed (a browser on the bridge's host, tests).
type CandidatePolicy struct {
	allowLoopback bool
	allowOwn      bool
	own           map[netip.Addr]bool
}

// NewCandidatePolicy builds the policy of webrtc.*: loopback is allowed
// with allow_local_candidates or when ice_interfaces holds only loopback
// addresses; the bridge's own addresses (its interfaces and nat_1to1_ips)
// only with allow_local_candidates.
func NewCandidatePolicy(cfg config.WebRTC) *CandidatePolicy {
	p := &CandidatePolicy{allowOwn: cfg.AllowLocalCandidates, allowLoopback: cfg.AllowLocalCandidates, own: map[netip.Addr]bool{}}
	if len(cfg.ICEInterfaces) > 0 {
		onlyLoopback := true
		for _, v := range cfg.ICEInterfaces {
			ip, err := netip.ParseAddr(v)
			if (err != nil && v != "lo") || (err == nil && !ip.IsLoopback()) {
				onlyLoopback = false
			}
		}
		p.allowLoopback = p.allowLoopback || onlyLoopback
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					p.own[ip.Unmap()] = true
				}
			}
		}
	}
	for _, s := range cfg.NAT1To1IPs {
		if ip, err := netip.ParseAddr(s); err == nil {
			p.own[ip.Unmap()] = true
		}
	}
	return p
}

// Check refuses a candidate (the attribute value, "candidate:…") whose
// address the bridge must not send to. A nil policy allows everything.
func (p *CandidatePolicy) Check(cand string) error {
	if p == nil {
		return nil
	}
	c, err := ice.UnmarshalCandidate(strings.TrimPrefix(cand, "a="))
	if err != nil {
		return fmt.Errorf("candidate does not parse: %w", err)
	}
	host := c.Address()
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if strings.HasSuffix(strings.ToLower(host), ".local") {
			return nil // mDNS name (RFC 8828 §5.1), resolved on the local link only
		}
		return fmt.Errorf("candidate address %q is a host name; only IP addresses and mDNS .local names are accepted", host)
	}
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("candidate address %s is unspecified, multicast or link-local", ip)
	case ip.IsLoopback() && !p.allowLoopback:
		return fmt.Errorf("candidate address %s is loopback (webrtc.allow_local_candidates is off)", ip)
	case !ip.IsLoopback() && p.own[ip] && !p.allowOwn:
		return fmt.Errorf("candidate address %s is the bridge's own (webrtc.allow_local_candidates is off)", ip)
	}
	return nil
}

// closeCodeOf is the close code of a refused hello.
func closeCodeOf(err error) int {
	if errorCode(err) == CodeTooManySessions {
		return CloseTooMany
	}
	return CloseUnauthorized
}
