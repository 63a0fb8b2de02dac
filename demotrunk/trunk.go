// Package demotrunk is the built-in SIP test trunk of demo mode: a real SIP
// user agent (sipgo) on loopback with fixed test numbers that echo, play a
// tone, are busy, never answer, send early media or hang up themselves. The
// bridge reaches it over SIP like any carrier, and tests use it as a UAS that
// challenges with 407 digest and records what it saw.
package demotrunk

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// The test numbers (E.164, fictional 555-01xx range). docs/DEMO.md describes them.
const (
	// NumberEcho rings for Options.RingFor, answers and echoes the caller's audio.
	NumberEcho = "+15550100001"
	// NumberTone answers at once and plays Options.ToneHz.
	NumberTone = "+15550100002"
	// NumberBusy rings, then answers 486 Busy Here.
	NumberBusy = "+15550100003"
	// NumberNoAnswer rings until the caller cancels (487).
	NumberNoAnswer = "+15550100004"
	// NumberEarlyMedia sends 183 with SDP and Options.EarlyToneHz for
	// Options.EarlyMediaFor, then answers with the same SDP and echoes.
	NumberEarlyMedia = "+15550100005"
	// NumberRemoteHangup answers, plays the tone and sends BYE after
	// Options.HangupAfter.
	NumberRemoteHangup = "+15550100006"
)

// Defaults of Options.
const (
	DefaultRTPHost       = "127.0.0.1"
	DefaultRealm         = "callbridge-demo"
	DefaultToneHz        = 440
	DefaultEarlyToneHz   = 425 // ITU-T E.180 ringing tone frequency
	DefaultRingFor       = time.Second
	DefaultEarlyMediaFor = 2 * time.Second
	DefaultHangupAfter   = 3 * time.Second
)

// shutdownTimeout bounds how long Close waits for calls to say goodbye.
const shutdownTimeout = 3 * time.Second

// Options configure a Trunk. Zero values take the Default* constants.
type Options struct {
	Logger   *slog.Logger
	RTPHost  string // IP for SDP c= and RTP sockets, e.g. "127.0.0.1"
	RTPPorts [2]int // optional range; 0,0 = OS-chosen
	// Username and Password, when set, make INVITEs challenged with 407
	// Proxy-Authenticate (digest, MD5, qop=auth) and checked.
	Username, Password string
	Realm              string
	ToneHz             float64       // tone of the tone and remote-hangup numbers, default 440
	EarlyToneHz        float64       // early-media tone of NumberEarlyMedia, default 425
	RingFor            time.Duration // 180 before 200 for NumberEcho, default 1 s
	EarlyMediaFor      time.Duration // 183 before 200 for NumberEarlyMedia, default 2 s
	HangupAfter        time.Duration // answer to BYE for NumberRemoteHangup, default 3 s
}

// Trunk is the demo SIP trunk. Create it with New, hand it a socket with
// Serve, stop it with Close.
type Trunk struct {
	opts    Options
	log     *slog.Logger
	rtpHost netip.Addr
	auth    *authenticator // nil without Username
	rec     *recorder

	ua  *sipgo.UserAgent
	srv *sipgo.Server

	ctx    context.Context // lifetime of the trunk, cancelled by Close
	cancel context.CancelFunc

	mu       sync.Mutex
	dialogUA *sipgo.DialogUA  // guarded by mu; set by Serve
	dialogs  map[string]*call // guarded by mu; by dialog ID
	serving  bool             // guarded by mu
	closing  bool             // guarded by mu; no new calls once set
	calls    sync.WaitGroup   // running INVITE handlers; Add under mu
	served   chan struct{}    // closed when Serve has cleaned up
}

// New checks opts and builds the trunk's SIP user agent.
func New(opts Options) (*Trunk, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.RTPHost == "" {
		opts.RTPHost = DefaultRTPHost
	}
	host, err := netip.ParseAddr(opts.RTPHost)
	if err != nil || host.IsUnspecified() {
		return nil, fmt.Errorf("%w: RTPHost %q must be a unicast IP address", ErrBadOptions, opts.RTPHost)
	}
	lo, hi := opts.RTPPorts[0], opts.RTPPorts[1]
	if (lo != 0 || hi != 0) && (lo < 1024 || hi > 65535 || hi < lo+1) {
		return nil, fmt.Errorf("%w: RTPPorts %d-%d must be 0,0 or a range of at least two ports within 1024-65535", ErrBadOptions, lo, hi)
	}
	if (opts.Username == "") != (opts.Password == "") {
		return nil, fmt.Errorf("%w: set both Username and Password, or neither", ErrBadOptions)
	}
	for name, v := range map[string]time.Duration{"RingFor": opts.RingFor, "EarlyMediaFor": opts.EarlyMediaFor, "HangupAfter": opts.HangupAfter} {
		if v < 0 {
			return nil, fmt.Errorf("%w: %s must not be negative", ErrBadOptions, name)
		}
	}
	for name, v := range map[string]float64{"ToneHz": opts.ToneHz, "EarlyToneHz": opts.EarlyToneHz} {
		if v < 0 || v >= sampleRate/2 {
			return nil, fmt.Errorf("%w: %s %.0f must be below 4000 Hz", ErrBadOptions, name, v)
		}
	}
	if opts.Realm == "" {
		opts.Realm = DefaultRealm
	}
	if opts.ToneHz == 0 {
		opts.ToneHz = DefaultToneHz
	}
	if opts.EarlyToneHz == 0 {
		opts.EarlyToneHz = DefaultEarlyToneHz
	}
	if opts.RingFor == 0 {
		opts.RingFor = DefaultRingFor
	}
	if opts.EarlyMediaFor == 0 {
		opts.EarlyMediaFor = DefaultEarlyMediaFor
	}
	if opts.HangupAfter == 0 {
		opts.HangupAfter = DefaultHangupAfter
	}

	log := opts.Logger.With("component", "demotrunk")
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("callbridge-demotrunk"),
		sipgo.WithUserAgentHostname(host.String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
	)
	if err != nil {
		return nil, fmt.Errorf("demotrunk: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		_ = ua.Close()
		return nil, fmt.Errorf("demotrunk: server: %w", err)
	}
	t := &Trunk{
		opts:    opts,
		log:     log,
		rtpHost: host,
		rec:     newRecorder(),
		ua:      ua,
		srv:     srv,
		dialogs: map[string]*call{},
		served:  make(chan struct{}),
	}
	if opts.Username != "" {
		t.auth = newAuthenticator(opts.Username, opts.Password, opts.Realm)
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())

	srv.OnInvite(t.guard(t.onInvite))
	srv.OnAck(t.guard(t.onAck))
	srv.OnBye(t.guard(t.onBye))
	srv.OnCancel(t.guard(t.onCancel))
	srv.OnOptions(t.guard(t.onOptions))
	srv.OnUpdate(t.guard(t.onInDialog))
	srv.OnInfo(t.guard(t.onInDialog))
	return t, nil
}

// Serve answers SIP on conn (UDP) until ctx is done or Close is called. The
// caller made the socket; sipgo closes it when serving stops. conn should be
// bound to a specific IP (not 0.0.0.0): that address goes into Contact.
func (t *Trunk) Serve(ctx context.Context, conn net.PacketConn) error {
	la, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return fmt.Errorf("%w: Serve needs a UDP socket, got %T", ErrBadOptions, conn.LocalAddr())
	}
	t.mu.Lock()
	switch {
	case t.closing:
		t.mu.Unlock()
		return ErrClosed
	case t.serving:
		t.mu.Unlock()
		return ErrAlreadyServing
	}
	t.serving = true
	hostPort := la.AddrPort()
	addr := netip.AddrPortFrom(hostPort.Addr().Unmap(), hostPort.Port())
	client, err := sipgo.NewClient(t.ua,
		sipgo.WithClientLogger(t.log),
		sipgo.WithClientConnectionAddr(addr.String()),
		sipgo.WithClientHostname(addr.Addr().String()),
		sipgo.WithClientPort(int(addr.Port())),
	)
	if err != nil {
		t.mu.Unlock()
		return fmt.Errorf("demotrunk: client: %w", err)
	}
	t.dialogUA = &sipgo.DialogUA{
		Client: client,
		ContactHDR: sip.ContactHeader{Address: sip.Uri{
			Scheme: "sip", User: "demotrunk", Host: addr.Addr().String(), Port: int(addr.Port()),
		}},
	}
	t.mu.Unlock()
	t.log.Info("demo trunk listening", "sip", addr.String(), "rtp_host", t.rtpHost)

	stopped := make(chan struct{})
	go func() {
		defer close(t.served)
		select {
		case <-ctx.Done():
		case <-t.ctx.Done():
		case <-stopped:
		}
		t.endCalls()
		_ = conn.Close()
	}()
	err = t.srv.ServeUDP(conn)
	close(stopped)
	<-t.served
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("demotrunk: serve: %w", err)
	}
	return nil
}

// Close ends all calls (BYE for answered ones, 480 for ringing ones), stops
// serving and releases the user agent. It is safe to call more than once.
func (t *Trunk) Close() error {
	t.mu.Lock()
	already := t.closing
	serving := t.serving
	t.closing = true
	t.mu.Unlock()
	if already {
		return nil
	}
	t.cancel()
	if serving {
		<-t.served
	} else {
		t.endCalls()
	}
	return t.ua.Close()
}

// endCalls stops taking calls, lets the running ones end and waits a bounded time.
func (t *Trunk) endCalls() {
	t.mu.Lock()
	t.closing = true
	t.mu.Unlock()
	t.cancel()
	done := make(chan struct{})
	go func() {
		t.calls.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(shutdownTimeout):
		t.log.Warn("calls still running at shutdown")
	}
}

// Calls returns the calls seen so far (snapshot), newest last.
func (t *Trunk) Calls() []CallRecord { return t.rec.snapshot() }

// WaitCall blocks until a call record satisfies pred (checked on every
// change, oldest first) and returns it, or returns ctx's error.
func (t *Trunk) WaitCall(ctx context.Context, pred func(CallRecord) bool) (CallRecord, error) {
	return t.rec.wait(ctx, pred)
}

// guard recovers a panicking handler so one bad request cannot take the
// trunk down, and answers 500 when nothing was sent yet.
func (t *Trunk) guard(h func(*sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				t.log.Error("sip handler panic", "method", req.Method, "panic", r)
				if tx != nil {
					_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
				}
			}
		}()
		h(req, tx)
	}
}

func (t *Trunk) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	// RFC 3261 §11.2: 200 with what the trunk supports.
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	t.respond(tx, res)
}

func (t *Trunk) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := t.lookup(req)
	if c == nil {
		return // ACKs of non-2xx responses are absorbed by the transaction layer
	}
	if err := c.dlg.ReadAck(req, tx); err != nil {
		t.log.Debug("ack not for the dialog", "call_id", c.callID, "error", err)
	}
}

func (t *Trunk) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := t.lookup(req)
	if c == nil {
		// RFC 3261 §15.1.2: no matching dialog.
		t.respond(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.byeFrom.CompareAndSwap(nil, ptr(ByeCaller))
	if err := c.dlg.ReadBye(req, tx); err != nil {
		t.log.Debug("bye rejected", "call_id", c.callID, "error", err)
		t.respond(tx, sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
	}
}

func (t *Trunk) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	// A CANCEL that matched a pending INVITE never gets here: the transaction
	// layer answers it and sends 487 (RFC 3261 §9.2).
	t.respond(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
}

// onInDialog answers UPDATE and INFO: 200 inside a known dialog, 481 outside.
func (t *Trunk) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	c := t.lookup(req)
	if c == nil {
		t.respond(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if err := c.dlg.ReadRequest(req, tx); err != nil {
		t.respond(tx, sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		return
	}
	if req.Method == sip.UPDATE && len(req.Body()) > 0 {
		// RFC 3311 §5.2: an UPDATE with an offer gets an answer.
		answer, err := c.reoffer(req.Body())
		if err != nil {
			code, reason := sipStatus(err)
			t.respond(tx, sip.NewResponseFromRequest(req, code, reason, nil))
			return
		}
		t.respond(tx, c.withContact(sip.NewSDPResponseFromRequest(req, answer)))
		return
	}
	t.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
}

func (t *Trunk) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		t.log.Debug("respond", "status", res.StatusCode, "error", err)
	}
}

// lookup finds the call of an in-dialog request (RFC 3261 §12.2.2).
func (t *Trunk) lookup(req *sip.Request) *call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dialogs[id]
}

// number maps a Request-URI user part to a test number: "+1555..." and
// "1555..." are the same; visual separators are ignored.
func number(user string) string {
	var b strings.Builder
	for _, r := range user {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '(' || r == ')' || r == '+':
		default:
			return ""
		}
	}
	n := "+" + b.String()
	switch n {
	case NumberEcho, NumberTone, NumberBusy, NumberNoAnswer, NumberEarlyMedia, NumberRemoteHangup:
		return n
	}
	return ""
}

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 2 // keep it well within int64 for SDP o=
}

func ptr[T any](v T) *T { return &v }
