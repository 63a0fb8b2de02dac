// Package signaling is the browser side of the bridge: the WebSocket
// protocol of docs/SIGNALING.md and each session's one WebRTC peer
// connection.
package signaling

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/clock"
)

// Protocol timers (signaling.md, "Transport").
const (
	DefaultHelloTimeout = 5 * time.Second
	DefaultPingInterval = 15 * time.Second
	DefaultIdleTimeout  = 45 * time.Second
	DefaultResumeGrace  = 10 * time.Second
	// DefaultPageGrace is how long the calls of a page that went away
	// (reload, navigation, a closed tab) wait for it to come back.
	DefaultPageGrace = 30 * time.Second
	// DefaultResumeTokenTTL is the life of a resume credential; a fresh
	// one is sent at half of it.
	DefaultResumeTokenTTL = 2 * time.Minute
)

// Bridge is what signaling needs of the call bridge: authenticate a seat,
// place a call, and control the session's calls. *bridge.Bridge is one.
type Bridge interface {
	Authenticate(token string) (*bridge.SeatAuth, error)
	Originate(ctx context.Context, req bridge.CallRequest) (bridge.CallControl, error)
	Control(callID string) (bridge.CallControl, bool)
}

// InboundBridge is what signaling needs of the bridge for inbound calls.
// A Bridge that implements it (*bridge.Bridge does) gets the sessions of a
// seat rung for calls to the seat's DIDs: the server registers itself as
// the bridge's Ringer.
type InboundBridge interface {
	SetRinger(r bridge.Ringer)
	Accept(ctx context.Context, callID string, req bridge.AnswerRequest) (bridge.CallControl, error)
	Reject(callID, sessionID, reason string) error
}

// Options configures the signaling handler.
type Options struct {
	Bridge Bridge
	API    *webrtc.API
	// AllowedOrigins: empty = same origin only; "*" = any.
	AllowedOrigins []string
	ICEServers     []config.ICEServer
	Logger         *slog.Logger

	HelloTimeout, PingInterval, IdleTimeout, ResumeGrace time.Duration
	// Clock runs the grace periods (ResumeGrace, PageGrace); default the
	// wall clock. Tests move a fake one.
	Clock clock.Clock
	// PageGrace is ResumeGrace for a session whose page said it was
	// leaving (reload, navigation, a closed tab).
	PageGrace time.Duration
	// ResumeTokenTTL is the life of a resume credential.
	ResumeTokenTTL time.Duration

	// Hostnames are the names the bridge is reached by (http.hostnames);
	// same-origin mode refuses a Host that is none of them, an IP literal
	// or localhost (DNS rebinding).
	Hostnames []string
	// MaxPending and MaxPendingPerIP cap the sockets not yet past hello
	// (http.max_pending_websockets, ..._per_ip); 0 = no cap.
	MaxPending, MaxPendingPerIP int
	// Limits are the per-seat caps of limits.*; zero fields = no cap.
	Limits config.Limits
	// Tokens, when set, refuses replayed and revoked tokens (auth.single_use_tokens, admin revocations).
	Tokens *auth.Guard
	// CandidatePolicy decides which client candidates get STUN; nil = any.
	CandidatePolicy *CandidatePolicy
}

// Server serves /v1/ws and keeps the sessions, including those waiting to
// be resumed.
type Server struct {
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader

	pending pendingSockets
	admit   sync.Mutex // serializes openSession's count and insert

	mu       sync.Mutex
	sessions map[string]*Session // guarded by mu
}

// Handler returns the WebSocket endpoint. It owns no listener.
func Handler(opts Options) *Server {
	if opts.HelloTimeout <= 0 {
		opts.HelloTimeout = DefaultHelloTimeout
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.ResumeGrace <= 0 {
		opts.ResumeGrace = DefaultResumeGrace
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.PageGrace <= 0 {
		opts.PageGrace = DefaultPageGrace
	}
	if opts.ResumeTokenTTL <= 0 {
		opts.ResumeTokenTTL = DefaultResumeTokenTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Logger, sessions: map[string]*Session{},
		pending: pendingSockets{max: opts.MaxPending, perIP: opts.MaxPendingPerIP}}
	if opts.Tokens != nil {
		opts.Tokens.OnRevoke(s.closeRevoked)
	}
	if ib, ok := opts.Bridge.(InboundBridge); ok {
		ib.SetRinger(s)
	}
	s.upgrader = websocket.Upgrader{
		CheckOrigin:     s.checkOrigin,
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
	}
	return s
}

// checkOrigin enforces http.allowed_origins before the upgrade (403).
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if slices.Contains(s.opts.AllowedOrigins, "*") {
		return true
	}
	if origin == "" {
		return true // not a browser: nothing to forge
	}
	if len(s.opts.AllowedOrigins) == 0 {
		return s.sameOrigin(origin, r.Host)
	}
	for _, o := range s.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// SessionsOf returns the sessions of a seat an inbound call may ring: not
// ended, and not on another call (bridge.Ringer).
func (s *Server) SessionsOf(seat string) []bridge.RingTarget {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bridge.RingTarget
	for _, ss := range s.sessions {
		if ss.mayRing(seat) {
			out = append(out, ss)
		}
	}
	return out
}

// Sessions returns the live sessions.
func (s *Server) Sessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.checkOrigin(r) {
		s.refuseOrigin(w, r)
		return
	}
	status, release := s.pending.take(r.RemoteAddr)
	if status != 0 {
		http.Error(w, "too many connections waiting for hello", status)
		return
	}
	defer release()
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Info("websocket upgrade refused", "origin", r.Header.Get("Origin"), "error", err)
		return
	}
	c := newConn(ws, s.opts.PingInterval)
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
	})
	go c.writeLoop()
	s.serveConn(c, r.RemoteAddr, release)
}

// serveConn runs one socket: hello (or resume), then the session's messages.
// A panic while handling a message ends this socket only, never the process.
// helloDone is called once the first frame is handled (the socket is no
// longer pending).
func (s *Server) serveConn(c *conn, remote string, helloDone func()) {
	log := s.log.With("remote", remote)
	var sess *Session
	defer func() {
		if r := recover(); r != nil {
			log.Error("signaling panic", "panic", r, "stack", string(debug.Stack()))
			c.closeWith(websocket.CloseInternalServerErr, "internal error")
			if sess != nil {
				sess.detach(c)
			}
		}
	}()
	_ = c.ws.SetReadDeadline(time.Now().Add(s.opts.HelloTimeout))
	data, err := c.readFrame()
	if err != nil {
		switch {
		case errors.Is(err, errFrameTooLarge):
			c.closeWith(CloseBadFrame, "frame too large")
		case isTimeout(err):
			c.closeWith(CloseUnauthorized, "no hello within 5 s")
		default:
			c.closeWith(websocket.CloseNormalClosure, "")
		}
		return
	}
	var msg Inbound
	if err := json.Unmarshal(data, &msg); err != nil {
		c.closeWith(CloseBadFrame, "not JSON")
		return
	}
	switch msg.Type {
	case TypeHello:
		sa, err := s.opts.Bridge.Authenticate(msg.Token)
		if err != nil {
			log.Info("hello refused", "error", err)
			c.send(ErrorMessage{Type: TypeError, Code: CodeUnauthorized, Message: err.Error()})
			c.closeWith(CloseUnauthorized, "unauthorized")
			return
		}
		if sess, err = s.openSession(sa, msg.Client); err != nil {
			log.Info("hello refused", "error", err)
			c.send(ErrorMessage{Type: TypeError, Code: errorCode(err), Message: err.Error()})
			c.closeWith(closeCodeOf(err), errorCode(err))
			return
		}
		sess.attach(c)
		sess.send(Ready{Type: TypeReady, SessionID: sess.ID, Seat: sa.Seat.ID, CallerIDs: sa.CallerIDs, ICEServers: s.iceServers(), ResumeToken: sess.issueResumeToken()})
	case TypeResume:
		sa, err := s.opts.Bridge.Authenticate(msg.Token)
		if err == nil {
			err = s.admitResume(sa)
		}
		if err != nil {
			c.send(ErrorMessage{Type: TypeError, Code: CodeUnauthorized, Message: err.Error()})
			c.closeWith(CloseUnauthorized, "unauthorized")
			return
		}
		s.mu.Lock()
		sess = s.sessions[msg.SessionID]
		s.mu.Unlock()
		// A session of another seat is refused as if it did not exist.
		if sess == nil || sess.seatID != sa.Seat.ID {
			c.send(ErrorMessage{Type: TypeError, Code: CodeSessionNotFound, Message: "no live session with that id; send hello"})
			c.closeWith(CloseUnauthorized, "session not found")
			return
		}
		if !sess.redeemResumeToken(msg.ResumeToken) {
			log.Info("resume refused: bad resume_token", "session_id", sess.ID)
			c.send(ErrorMessage{Type: TypeError, Code: CodeUnauthorized, Message: "resume_token missing, already used or expired; send hello"})
			c.closeWith(CloseUnauthorized, "unauthorized")
			return
		}
		if !sess.resume(c, sa, msg.NewPeer) {
			c.send(ErrorMessage{Type: TypeError, Code: CodeSessionNotFound, Message: "no live session with that id; send hello"})
			c.closeWith(CloseUnauthorized, "session not found")
			return
		}
	default:
		c.closeWith(CloseBadFrame, "the first message must be hello")
		return
	}
	helloDone()

	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		data, err := c.readFrame()
		if err != nil {
			if errors.Is(err, errFrameTooLarge) {
				c.closeWith(CloseBadFrame, "frame too large")
			} else {
				c.closeWith(websocket.CloseGoingAway, "")
			}
			sess.detach(c)
			return
		}
		if !sess.owns(c) {
			return // replaced by a resume on another socket
		}
		sess.handle(data)
	}
}

func (s *Server) iceServers() []config.ICEServer {
	if s.opts.ICEServers == nil {
		return []config.ICEServer{}
	}
	return s.opts.ICEServers
}

func (s *Server) newSession(sa *bridge.SeatAuth, client *ClientInfo) *Session {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithCancel(context.Background())
	sess := &Session{
		ID:     hex.EncodeToString(b[:]),
		srv:    s,
		seatID: sa.Seat.ID,
		lim:    newSessionLimits(s.opts.Limits),
		auth:   sa,
		calls:  map[string]bool{},
		ctx:    ctx,
		cancel: cancel,
	}
	sess.leg = &lazyLeg{s: sess}
	sess.log = s.log.With("session_id", sess.ID, "seat", sa.Seat.ID)
	if client != nil {
		sess.log.Info("session started", "client", client.Name, "client_version", client.Version)
	} else {
		sess.log.Info("session started")
	}
	s.mu.Lock()
	s.sessions[sess.ID] = sess
	s.mu.Unlock()
	return sess
}

// ownerOf is the session whose calls include id, if any.
func (s *Server) ownerOf(id string) *Session {
	for _, sess := range s.Sessions() {
		sess.mu.Lock()
		owns := sess.calls[id]
		sess.mu.Unlock()
		if owns {
			return sess
		}
	}
	return nil
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	delete(s.sessions, sess.ID)
	s.mu.Unlock()
}

// Shutdown closes every session (their calls are ended by the bridge).
func (s *Server) Shutdown() {
	for _, sess := range s.Sessions() {
		sess.terminate()
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

var errFrameTooLarge = errors.New("signaling: frame over 64 KiB")

// conn is one WebSocket with a single writer goroutine: everything that
// writes a data frame goes through out, and closing goes through the writer
// too so queued messages (an error before 4401) are flushed first.
type conn struct {
	ws      *websocket.Conn
	out     chan []byte
	closing chan struct{} // closed by closeWith
	done    chan struct{} // closed when the writer has closed the socket
	once    sync.Once
	code    int    // set before closing is closed
	reason  string // set before closing is closed
	pingInt time.Duration
}

func newConn(ws *websocket.Conn, ping time.Duration) *conn {
	return &conn{ws: ws, out: make(chan []byte, 128), closing: make(chan struct{}), done: make(chan struct{}), pingInt: ping}
}

// readFrame reads one frame of at most MaxFrame bytes.
func (c *conn) readFrame() ([]byte, error) {
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(r, MaxFrame+1))
		if err != nil {
			return nil, err
		}
		if len(data) > MaxFrame {
			// Read a bounded rest of the frame so the close frame reaches
			// the client before the TCP connection resets.
			_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
			return nil, errFrameTooLarge
		}
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		return data, nil
	}
}

func (c *conn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	select {
	case <-c.closing:
		return
	default:
	}
	select {
	case c.out <- b:
	default:
		// A client that does not read is dropped rather than buffered forever.
		c.closeWith(websocket.ClosePolicyViolation, "client too slow")
	}
}

func (c *conn) writeLoop() {
	ping := time.NewTicker(c.pingInt)
	defer ping.Stop()
	defer close(c.done)
	for {
		select {
		case b := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				_ = c.ws.Close()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
				_ = c.ws.Close()
				return
			}
		case <-c.closing:
			deadline := time.Now().Add(time.Second)
			_ = c.ws.SetWriteDeadline(deadline)
			for drained := false; !drained; {
				select {
				case b := <-c.out:
					_ = c.ws.WriteMessage(websocket.TextMessage, b)
				default:
					drained = true
				}
			}
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, c.reason), deadline)
			_ = c.ws.Close()
			return
		}
	}
}

// closeWith queues a close frame with code after pending messages.
func (c *conn) closeWith(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.closing)
	})
}

// BrowserStats returns the last getStats summary a client uploaded for a
// call, and when it arrived.
func (s *Server) BrowserStats(callID string) (json.RawMessage, time.Time, bool) {
	for _, sess := range s.Sessions() {
		sess.mu.Lock()
		st, ok := sess.clientStats[callID]
		sess.mu.Unlock()
		if ok {
			return st.Raw, st.Received, true
		}
	}
	return nil, time.Time{}, false
}
