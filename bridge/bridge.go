// Package bridge joins a browser leg to a SIP leg: it owns the seats, the
// SIP user agent toward the trunk, the RTP ports of the SIP leg, and every
// Call in progress.
package bridge

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"golang.org/x/time/rate"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/clock"
	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/phone"
	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/routing"
)

// DefaultMediaWait is how long a call request waits for the session's
// media connection before it is refused with no_media.
const DefaultMediaWait = 10 * time.Second

// Option sets an injected dependency of a Bridge.
type Option func(*Bridge)

// WithLogger sets the logger; each call logs with call_id and seat.
func WithLogger(l *slog.Logger) Option { return func(b *Bridge) { b.log = l } }

// WithEvents sets where call events (webhooks) are published.
func WithEvents(p record.Publisher) Option { return func(b *Bridge) { b.events = p } }

// WithAdmission sets the headroom check new calls must pass (see package
// admission); nil admits every call.
func WithAdmission(admit func() error) Option { return func(b *Bridge) { b.admit = admit } }

// WithSeatCallsElsewhere sets how the bridge learns how many calls a seat
// has on other bridge nodes sharing its store, so that seats[].max_calls
// holds across nodes. nil (one node) counts this node's calls only.
func WithSeatCallsElsewhere(count func(ctx context.Context, seat string) (int, error)) Option {
	return func(b *Bridge) { b.elsewhere = count }
}

// WithMetrics sets the metrics sink.
func WithMetrics(m *Metrics) Option { return func(b *Bridge) { b.metrics = m } }

// WithClock sets the time source of the calls' timers (tests move a fake
// clock instead of sleeping).
func WithClock(c clock.Clock) Option { return func(b *Bridge) { b.clock = c } }

// WithRTCPInterval sets the SIP leg's RTCP report interval (default
// DefaultRTCPInterval); tests shorten it.
func WithRTCPInterval(d time.Duration) Option { return func(b *Bridge) { b.rtcpInterval = d } }

// Bridge is the whole call-handling state of one process.
type Bridge struct {
	cfg     *config.Config
	log     *slog.Logger
	events  record.Publisher
	metrics *Metrics
	clock   clock.Clock
	admit   func() error // nil = admit all
	// elsewhere counts a seat's calls on other nodes; nil = none
	elsewhere func(ctx context.Context, seat string) (int, error)

	rtcpInterval time.Duration // the SIP leg's RTCP report interval

	ua          *sipgo.UserAgent
	client      *sipgo.Client
	server      *sipgo.Server
	dialogUA    *sipgo.DialogUA
	trunk       sip.Uri
	transport   string
	domain      string
	sigHost     string        // host written into Contact/Via: sip.external_ip or the listen host
	udpListen   string        // host:port requests are sent from (the UDP socket ServeSIP serves); empty for TCP/TLS or a host name
	serving     chan struct{} // closed once ServeSIP serves udpListen
	servingOnce sync.Once
	sigPort     int
	mediaIP     netip.Addr // address of RTP sockets
	sdpIP       netip.Addr // address written into SDP c=
	codecs      []media.Codec
	ports       *portAllocator
	tls         *tls.Config // SIP over TLS, nil when unused

	probe trunkProbe

	seats        func(id string) (*config.Seat, bool)  // WithSeats; default the file's seats
	dids         func(did string) (*config.Seat, bool) // WithDIDs; default the file's seats' caller ids
	router       Router                                // WithRouter; default the file's trunks and routes
	routeMetrics *routing.Metrics                      // WithRouteMetrics
	gates        *routing.Gates                        // each trunk's health, breaker and calls
	learnedHosts sync.Map                              // trunk host -> true once learnTrunkHost ran
	trunkList    func() []config.Trunk                 // WithTrunkList; the trunks ProbeTrunks watches

	// Who may talk SIP to the bridge (docs/SECURITY.md): the trunk's
	// addresses, learned from DNS and from its responses, and the
	// configured sip.allowed_sources; RTP may also come from
	// sip.media_networks.
	trunkIPs       sync.Map // netip.Addr -> true
	allowedSources []netip.Prefix
	mediaNetworks  []netip.Prefix
	responses      *sourceLimiter // responses to out-of-dialog requests, per source

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter // per seat, dialing.calls_per_minute; guarded by limMu

	mu      sync.Mutex
	calls   map[string]*Call // by call id; guarded by mu
	bySIPID map[string]*Call // by SIP Call-ID; guarded by mu
	recent  []CallInfo       // ended calls, oldest first; guarded by mu
	ringer  Ringer           // rings a seat's sessions for inbound calls; guarded by mu
	closing bool             // guarded by mu
	wg      sync.WaitGroup
}

// New builds a Bridge from a validated configuration. It does not listen:
// the caller hands sockets to ServeSIP.
func New(cfg *config.Config, opts ...Option) (*Bridge, error) {
	b := &Bridge{
		cfg:       cfg,
		log:       slog.Default(),
		calls:     map[string]*Call{},
		bySIPID:   map[string]*Call{},
		clock:     clock.Real{},
		responses: newSourceLimiter(responsesPerSecond, responsesBurst),
		serving:   make(chan struct{}),
	}
	for _, o := range opts {
		o(b)
	}
	for _, n := range cfg.SIP.AllowedSources {
		p, err := config.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("bridge: sip.allowed_sources: %w", err)
		}
		b.allowedSources = append(b.allowedSources, p)
	}
	for _, n := range cfg.SIP.MediaNetworks {
		p, err := config.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("bridge: sip.media_networks: %w", err)
		}
		b.mediaNetworks = append(b.mediaNetworks, p)
	}
	if b.metrics == nil {
		b.metrics = NewMetrics(nil)
	}
	if b.routeMetrics == nil {
		b.routeMetrics = routing.NewMetrics(nil)
	}
	b.gates = routing.NewGates(0, 0, b.clock.Now)
	if b.router == nil {
		r, err := fileRouter(cfg)
		if err != nil {
			return nil, fmt.Errorf("bridge: routes: %w", err)
		}
		b.router = r
	}
	// The first trunk is the one the OPTIONS probe of sip.options_interval
	// watches, and the one sip.domain defaults to.
	trunkURI := cfg.SIP.Trunk
	if list := cfg.TrunkList(); trunkURI == "" && len(list) > 0 {
		trunkURI = list[0].Address
	}
	trunk := sip.Uri{}
	if err := sip.ParseUri(trunkURI, &trunk); err != nil {
		return nil, fmt.Errorf("bridge: sip.trunk %q: %w", trunkURI, err)
	}
	b.trunk = trunk
	b.learnTrunkHost(trunk.Host)
	b.transport = "udp"
	if t, ok := trunk.UriParams.Get("transport"); ok && t != "" {
		b.transport = strings.ToLower(t)
	}
	b.domain = cfg.SIP.Domain
	if b.domain == "" {
		b.domain = trunk.Host
	}
	transport, host, port := cfg.SIP.ListenParts()
	b.sigHost, b.sigPort = host, port
	listenIP, err := netip.ParseAddr(host)
	if err != nil || listenIP.IsUnspecified() {
		listenIP = firstNonLoopback()
	}
	b.mediaIP = listenIP
	b.sdpIP = listenIP
	if cfg.SIP.ExternalIP != "" {
		ext, err := netip.ParseAddr(cfg.SIP.ExternalIP)
		if err != nil {
			return nil, fmt.Errorf("bridge: sip.external_ip: %w", err)
		}
		b.sdpIP = ext
		b.sigHost = ext.String()
	}
	lo, hi := cfg.SIP.RTPPortRange()
	bindIP := listenIP
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		bindIP = ip
	}
	b.ports = newPortAllocator(bindIP, lo, hi)
	for i, name := range cfg.SIP.Codecs {
		switch strings.ToUpper(name) {
		case "PCMU":
			b.codecs = append(b.codecs, media.CodecPCMU)
		case "PCMA":
			b.codecs = append(b.codecs, media.CodecPCMA)
		default:
			return nil, fmt.Errorf("bridge: sip.codecs[%d]: unsupported codec %q", i, name)
		}
	}
	if len(b.codecs) == 0 {
		b.codecs = []media.Codec{media.CodecPCMU, media.CodecPCMA}
	}

	uaOpts := []sipgo.UserAgentOption{sipgo.WithUserAgent("callbridge"), sipgo.WithUserAgentHostname(b.sigHost)}
	if b.transport == "tls" || transport == "tls" || cfg.SIP.TLS.CAFile != "" || cfg.SIP.TLS.CertFile != "" {
		tc, err := tlsConfig(cfg.SIP.TLS, trunk.Host)
		if err != nil {
			return nil, fmt.Errorf("bridge: %w", err)
		}
		b.tls = tc
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(tc))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		return nil, fmt.Errorf("bridge: sip user agent: %w", err)
	}
	b.ua = ua
	clientOpts := []sipgo.ClientOption{sipgo.WithClientHostname(b.sigHost), sipgo.WithClientPort(port),
		sipgo.WithClientLogger(b.log.With("component", "sip"))}
	if cfg.SIP.ExternalIP != "" {
		clientOpts = append(clientOpts, sipgo.WithClientNAT()) // rport, RFC 3581
	}
	if ip, err := netip.ParseAddr(host); err == nil && port != 0 && (transport == "" || transport == "udp") && b.transport == "udp" {
		// Requests leave from the socket ServeSIP serves, so responses and
		// in-dialog requests sent to our Via and Contact reach it (RFC 3261
		// §18.1.1); otherwise sipgo sends from an extra socket on 0.0.0.0.
		b.udpListen = netip.AddrPortFrom(ip, uint16(port)).String()
		clientOpts = append(clientOpts, sipgo.WithClientConnectionAddr(b.udpListen))
	}
	b.client, err = sipgo.NewClient(ua, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("bridge: sip client: %w", err)
	}
	b.server, err = sipgo.NewServer(ua, sipgo.WithServerLogger(b.log.With("component", "sip")))
	if err != nil {
		return nil, fmt.Errorf("bridge: sip server: %w", err)
	}
	contact := sip.Uri{Scheme: "sip", User: "callbridge", Host: b.sigHost, Port: port, UriParams: sip.NewParams()}
	if transport != "" && transport != "udp" {
		// Without it the carrier reaches our Contact over UDP (RFC 3263
		// §4.1), where a TCP or TLS listener never hears its BYE.
		contact.UriParams.Add("transport", transport)
	}
	b.dialogUA = &sipgo.DialogUA{Client: b.client, ContactHDR: sip.ContactHeader{Address: contact}}
	b.server.OnBye(b.guard(b.inDialog((*sipLeg).remoteBye))) // RFC 3261 §15.1.2
	b.server.OnAck(b.guard(b.onAck))
	b.server.OnOptions(b.guard(b.onOptions))
	b.server.OnUpdate(b.guard(b.inDialog((*sipLeg).update))) // RFC 3311: refresh or new media
	b.server.OnInfo(b.guard(b.inDialog((*sipLeg).info)))     // RFC 6086: DTMF relay
	b.server.OnInvite(b.guard(b.onInvite))
	b.server.OnCancel(b.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		b.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	}))
	b.server.OnNoRoute(b.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		b.respond(req, tx, sip.StatusMethodNotAllowed, "Method Not Allowed")
	}))
	return b, nil
}

// ServeSIP serves the bridge's SIP user agent on conn until it is closed.
func (b *Bridge) ServeSIP(conn net.PacketConn) error {
	if addr := conn.LocalAddr().String(); addr == b.udpListen {
		// Known to the transport before the first request goes out from it;
		// ServeUDP adds the same socket again as it starts reading.
		b.ua.TransportLayer().Pool("udp").Add(addr, &sip.UDPConnection{PacketConn: conn, PacketAddr: addr, Listener: true})
		b.servingOnce.Do(func() { close(b.serving) })
	}
	return b.server.ServeUDP(conn)
}

// waitServing returns once ServeSIP serves the UDP socket requests are sent
// from (callers start it in a goroutine of their own), or when ctx ends.
func (b *Bridge) waitServing(ctx context.Context) {
	if b.udpListen == "" {
		return
	}
	select {
	case <-b.serving:
	case <-ctx.Done():
	}
}

// ServeSIPStream serves SIP over a TCP listener.
func (b *Bridge) ServeSIPStream(l net.Listener) error { return b.server.ServeTCP(l) }

// ServeSIPTLS serves SIP over a TLS listener (sip.listen "tls:…").
func (b *Bridge) ServeSIPTLS(l net.Listener) error { return b.server.ServeTLS(l) }

// TLSConfig is the SIP leg's TLS configuration, nil when TLS is unused.
func (b *Bridge) TLSConfig() *tls.Config { return b.tls }

// Config returns the configuration the bridge runs with.
func (b *Bridge) Config() *config.Config { return b.cfg }

// SeatAuth is an authenticated seat and the caller ids its token may use.
type SeatAuth struct {
	Seat      *config.Seat
	CallerIDs []string
	ExpiresAt time.Time
	// Token is the verified token (its jti and iat judge replays and revocations).
	Token *auth.Claims
}

// Authenticate verifies a seat token (signaling.md, "Authentication").
func (b *Bridge) Authenticate(token string) (*SeatAuth, error) {
	claims, err := auth.VerifyPolicy([]byte(b.cfg.Auth.TokenSecret), token, auth.Policy{
		MaxLifetime: b.cfg.Auth.MaxTokenLifetime, Skew: b.cfg.Auth.ClockSkew, RequireID: b.cfg.Auth.SingleUseTokens})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	seat, ok := b.seat(claims.Seat)
	if !ok {
		return nil, fmt.Errorf("%w: unknown seat %q", ErrUnauthorized, claims.Seat)
	}
	if seat.Disabled {
		return nil, fmt.Errorf("%w: seat %q is disabled", ErrUnauthorized, claims.Seat)
	}
	ids := slices.Clone(seat.CallerIDs)
	if len(claims.CallerIDs) > 0 {
		ids = ids[:0]
		for _, id := range seat.CallerIDs {
			if slices.Contains(claims.CallerIDs, id) {
				ids = append(ids, id)
			}
		}
	}
	return &SeatAuth{Seat: seat, CallerIDs: ids, ExpiresAt: claims.ExpiresAt, Token: claims}, nil
}

// CallRequest is an agent's click: place a call from a seat to a number.
type CallRequest struct {
	Auth      *SeatAuth
	RequestID string
	To        string          // as typed; normalized to E.164 with the seat's country
	From      string          // one of Auth.CallerIDs; empty = the first
	Metadata  json.RawMessage // passed through to webhooks
	Leg       BrowserLeg
	// OnState receives every call_state in order; it must not block.
	OnState func(CallState)
	// OnDTMF receives digits the far end sent (RFC 4733 or SIP INFO); it must not block.
	OnDTMF func(callID string, digit rune)
}

// CallState is one call_state message (signaling.md, "Call states").
type CallState struct {
	CallID    string        `json:"call_id"`
	RequestID string        `json:"request_id,omitempty"`
	State     string        `json:"state"`
	To        string        `json:"to"`
	From      string        `json:"from"`
	Cause     *record.Cause `json:"cause,omitempty"`
	// AnsweredAt is when the far end answered (extension): a page that
	// re-attached to the call runs its timer from it.
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	// Hold says the agent holds the call (extension); sent with the
	// current state to a page that re-attached to it.
	Hold bool `json:"hold,omitempty"`
}

// Call states, in order.
const (
	StateDialing    = "dialing"
	StateRinging    = "ringing"
	StateEarlyMedia = "early_media"
	StateAnswered   = "answered"
	StateEnded      = "ended"
)

// Originate validates a call request and starts the call. Refusals are
// *Error values (invalid_number, caller_id_not_allowed, too_many_calls,
// no_media ...) and send nothing upstream. It waits up to DefaultMediaWait
// for the session's media; run it off the signaling read loop.
func (b *Bridge) Originate(ctx context.Context, req CallRequest) (CallControl, error) {
	seat := req.Auth.Seat
	// An emergency number is refused, or under dialing.emergency: dial
	// sent as dialed, past the destination rules and the call rate.
	to, err := b.emergency(req)
	if err != nil {
		return nil, err
	}
	isEmergency := to != ""
	if !isEmergency {
		if to, err = phone.Normalize(req.To, seat.Country); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidNumber, err)
		}
		if err := b.destinationAllowed(seat, to); err != nil {
			return nil, err
		}
	}
	from := req.From
	if from == "" {
		// Local presence: the seat's DID nearest the destination.
		choice, err := b.PickCallerID(req.Auth, to)
		if err != nil {
			return nil, err
		}
		from = choice.Number
	} else {
		norm, err := phone.Normalize(from, seat.Country)
		if err != nil || !slices.Contains(req.Auth.CallerIDs, norm) {
			return nil, fmt.Errorf("%w: %q", ErrCallerIDNotAllowed, from)
		}
		from = norm
	}
	if len(req.Metadata) > 4096 {
		return nil, fmt.Errorf("%w: metadata over 4 KiB", errBadRequest)
	}

	if err := b.storeHealthy(); err != nil {
		return nil, err
	}
	b.waitServing(ctx)
	if b.admit != nil {
		if err := b.admit(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTooBusy, err)
		}
	}
	// With sip.trunk alone, a trunk known down refuses the call at once;
	// with trunks:, the route's other trunks are tried (ProbeTrunks).
	if len(b.cfg.Trunks) == 0 && !b.trunkUp() {
		st := b.Trunk()
		return nil, fmt.Errorf("%w: no answer to OPTIONS since %s", ErrTrunkUnavailable, st.LastOK.Format(time.RFC3339))
	}

	if !isEmergency && !b.rateAllow(seat.ID) {
		return nil, fmt.Errorf("%w: %d a minute", ErrRateLimited, b.cfg.Dialing.CallsPerMinute)
	}

	wctx, cancel := context.WithTimeout(ctx, DefaultMediaWait)
	err = req.Leg.WaitMedia(wctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMedia, err)
	}

	active := 0 // the seat's calls on this node and, first, elsewhere
	if b.elsewhere != nil {
		n, err := b.elsewhere(ctx, seat.ID)
		if err != nil {
			b.log.Warn("seat's calls on other nodes unknown; counting this node's only", "seat", seat.ID, "error", err)
		}
		active = n
	}
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return nil, ErrShuttingDown
	}
	for _, c := range b.calls {
		if c.seat.ID == seat.ID {
			active++
		}
	}
	max := seat.MaxCalls
	if max <= 0 {
		max = 1
	}
	if active >= max {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %d of %d", ErrTooManyCalls, active, max)
	}
	c := newCall(b, req, from, to)
	b.calls[c.ID] = c
	b.bySIPID[c.sip.callID] = c
	b.wg.Add(1)
	b.mu.Unlock()

	b.metrics.callsStarted.Inc()
	b.metrics.callsActive.Inc()
	go func() {
		defer b.wg.Done()
		c.run()
	}()
	return c, nil
}

var errBadRequest = &Error{"bad_request", "bad request"}

// CallControl is what the agent's side may do with one of its calls.
type CallControl interface {
	CallID() string
	Hangup()
	Hold(on bool) error
	SendDTMF(digits string, dur time.Duration) error
	// Abandon ends the call because its browser session is gone for good.
	Abandon()
	// Done is closed when the call has ended and its resources are freed.
	Done() <-chan struct{}
	// Seat is the seat that placed the call.
	Seat() *config.Seat
	// Current is the call's state now, for a page that re-attached.
	Current() CallState
	// DetachBrowser takes the browser leg out; the far end hears comfort
	// noise until AttachBrowser.
	DetachBrowser(reason string)
	// AttachBrowser makes leg the call's browser leg and sends the call's
	// states and digits to onState and onDTMF from now on.
	AttachBrowser(leg BrowserLeg, onState func(CallState), onDTMF func(callID string, digit rune)) error
}

// Control returns the controls of a call in progress by its id.
func (b *Bridge) Control(id string) (CallControl, bool) {
	c, ok := b.Call(id)
	if !ok {
		return nil, false
	}
	return c, true
}

// Call returns a call in progress by its id.
func (b *Bridge) Call(id string) (*Call, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.calls[id]
	return c, ok
}

// Calls returns the calls in progress.
func (b *Bridge) Calls() []*Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*Call, 0, len(b.calls))
	for _, c := range b.calls {
		out = append(out, c)
	}
	return out
}

// recentKept is how many ended calls Recent keeps for support engineers.
const recentKept = 50

// Recent returns the last ended calls, newest first.
func (b *Bridge) Recent() []CallInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]CallInfo, 0, len(b.recent))
	for i := len(b.recent) - 1; i >= 0; i-- {
		out = append(out, b.recent[i])
	}
	return out
}

func (b *Bridge) forget(c *Call) {
	info := c.Info()
	b.metrics.observeEnd(info)
	b.mu.Lock()
	b.recent = append(b.recent, info)
	if len(b.recent) > recentKept {
		b.recent = b.recent[len(b.recent)-recentKept:]
	}
	delete(b.calls, c.ID)
	delete(b.bySIPID, c.sip.callID)
	if fwd := c.forwardLeg(); fwd != nil {
		delete(b.bySIPID, fwd.callID)
	}
	b.mu.Unlock()
	b.metrics.callsActive.Dec()
}

func (b *Bridge) callBySIP(req *sip.Request) *Call {
	id := req.CallID()
	if id == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bySIPID[id.Value()]
}

// onInvite answers re-INVITEs within a call's dialog and takes new calls
// from the trunk to a seat's DID (inbound.go).
func (b *Bridge) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		if c, leg := b.legOf(req); c != nil {
			leg.reinvite(req, tx, c.State() == StateAnswered)
			return
		}
		b.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	b.onNewInvite(req, tx)
}

// onOptions answers OPTIONS in and out of dialogs (RFC 3261 §11.2).
func (b *Bridge) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") && func() bool { c, _ := b.legOf(req); return c == nil }() {
		b.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if !b.responses.allow(sourceIP(req)) {
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, application/dtmf-relay"))
	res.AppendHeader(sip.NewHeader("Supported", "timer"))
	_ = tx.Respond(res)
}

// allowHeader lists the methods the bridge handles.
const allowHeader = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"

// legOf is the call and the SIP leg whose dialog an in-dialog request
// belongs to: the Call-ID and both tags must match (RFC 3261 §12.2.2).
// nil if none does.
func (b *Bridge) legOf(req *sip.Request) (*Call, *sipLeg) {
	id := req.CallID()
	if id == nil {
		return nil, nil
	}
	b.mu.Lock()
	c := b.bySIPID[id.Value()]
	b.mu.Unlock()
	if c == nil {
		return nil, nil
	}
	for _, l := range []*sipLeg{c.sip, c.forwardLeg()} {
		if l != nil && l.callID == id.Value() && l.matches(req) {
			return c, l
		}
	}
	return nil, nil
}

// inDialog routes a request to the SIP leg whose dialog it belongs to, or
// answers 481 (RFC 3261 §12.2.2).
func (b *Bridge) inDialog(handle func(*sipLeg, *sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		c, leg := b.legOf(req)
		if c == nil {
			b.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
		handle(leg, req, tx)
	}
}

// onAck takes the SDP answer of an offerless INVITE or re-INVITE
// (RFC 3264 §5, the offer was in our 200) and confirms the dialog of an
// inbound call (RFC 3261 §13.3.1.4).
func (b *Bridge) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c, leg := b.legOf(req)
	if c == nil {
		return
	}
	if len(req.Body()) > 0 {
		leg.ackAnswer(req)
	}
	if uas := leg.uasDialog(); uas != nil {
		if err := uas.ReadAck(req, tx); err != nil {
			leg.log.Debug("ACK not for the INVITE", "error", err)
		}
	}
}

// Shutdown stops accepting calls and ends every call in progress with
// BYE/CANCEL, waiting until they are gone or ctx ends.
func (b *Bridge) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	calls := make([]*Call, 0, len(b.calls))
	for _, c := range b.calls {
		calls = append(calls, c)
	}
	b.mu.Unlock()
	for _, c := range calls {
		c.end(ErrBridgeShutdown)
	}
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Close shuts the SIP user agent down.
func (b *Bridge) Close() error { return b.ua.Close() }

func firstNonLoopback() netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() && !ip.IsLoopback() {
					return ip.Unmap()
				}
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

// Drain stops accepting calls and waits until those in progress end, or
// ctx ends.
func (b *Bridge) Drain(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// destinationAllowed applies dialing.blocked_prefixes, the high-risk
// number types and countries, and the seat's (or dialing's) allowed
// countries to a normalized number.
func (b *Bridge) destinationAllowed(seat *config.Seat, to string) error {
	for _, p := range b.cfg.Dialing.BlockedPrefixes {
		if strings.HasPrefix(to, p) {
			return fmt.Errorf("%w: %s is in the blocked range %s", ErrDestinationNotAllow, to, p)
		}
	}
	if err := b.numberTypeAllowed(to); err != nil {
		return err
	}
	allowed := b.cfg.Dialing.AllowedCountries
	if len(seat.AllowedCountries) > 0 {
		allowed = seat.AllowedCountries
	}
	region, err := phone.Region(to)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidNumber, err)
	}
	if err := regionAllowed(region, allowed); err != nil {
		return err
	}
	if len(allowed) == 0 {
		return nil
	}
	for _, a := range allowed {
		if strings.EqualFold(a, region) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is in %s; the seat may call %s", ErrDestinationNotAllow, to, region, strings.Join(allowed, ", "))
}

// rateAllow takes one call from the seat's token bucket.
func (b *Bridge) rateAllow(seat string) bool {
	n := b.cfg.Dialing.CallsPerMinute
	if n <= 0 {
		return true
	}
	b.limMu.Lock()
	defer b.limMu.Unlock()
	if b.limiters == nil {
		b.limiters = map[string]*rate.Limiter{}
	}
	l, ok := b.limiters[seat]
	if !ok {
		l = rate.NewLimiter(rate.Every(time.Minute/time.Duration(n)), n)
		b.limiters[seat] = l
	}
	return l.Allow()
}
