package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/callbridge/callbridge/record"
)

// Defaults of SenderConfig.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 4
	DefaultBackoff     = time.Second
)

// SenderConfig says where and how events are posted. Outbox uses it too.
type SenderConfig struct {
	// URL receives every seat's events unless SeatURLs names another; "" =
	// such seats' events are not posted.
	URL string
	// SeatURLs overrides URL per seat id.
	SeatURLs map[string]string
	// Secret is the "whsec_" signing secret.
	Secret string
	// Timeout bounds one attempt; 0 = DefaultTimeout.
	Timeout time.Duration
	// AllowPrivate permits loopback/private targets.
	AllowPrivate bool
	// Events are the types posted; empty = all. call.completed is always posted.
	Events []string
	// Template and ContentType shape the body (see NewRenderer).
	Template    string
	ContentType string
	// Headers are extra request headers.
	Headers map[string]string
	// MaxAttempts bounds Sender's attempts per event; 0 = DefaultMaxAttempts.
	// (Outbox uses its retry schedule instead.)
	MaxAttempts int
	// Backoff is Sender's first retry delay, doubled per attempt; 0 = DefaultBackoff.
	Backoff time.Duration
	// Node is the Outbox's node id among bridges sharing one store: it
	// owns the calls it records and claims the events it attempts. Unique
	// per running bridge; "" = DefaultNode (the host name).
	Node string
}

func (c SenderConfig) withDefaults() SenderConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.ContentType == "" {
		c.ContentType = "application/json"
	}
	return c
}

// target returns the URL of seat's events, "" if none.
func (c SenderConfig) target(seat string) string {
	if u := c.SeatURLs[seat]; u != "" {
		return u
	}
	return c.URL
}

// wants reports whether events of type typ are posted.
func (c SenderConfig) wants(typ string) bool {
	if typ == record.TypeCompleted || len(c.Events) == 0 {
		return true
	}
	for _, e := range c.Events {
		if e == typ {
			return true
		}
	}
	return false
}

// Sender is a record.Publisher that posts from memory: Publish queues and returns
// at once, one goroutine delivers in order with a few retries. Events still
// queued when the process dies are lost; Outbox is the durable one.
type Sender struct {
	cfg       SenderConfig
	log       *slog.Logger
	client    *http.Client
	render    *Renderer
	renderErr error
	ctx       context.Context    // cancelled by Close when its deadline passes
	cancel    context.CancelFunc // cancels ctx
	wake      chan struct{}      // capacity 1: work arrived or closing
	done      chan struct{}      // closed when the worker has exited

	mu     sync.Mutex
	queue  []senderJob // guarded by mu
	closed bool        // guarded by mu
}

type senderJob struct {
	req  request
	typ  string
	call string
}

var _ record.Publisher = (*Sender)(nil)

// NewSender starts a Sender. A template that does not render is reported by
// every Publish (config validation catches it earlier).
func NewSender(cfg SenderConfig, log *slog.Logger) *Sender {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{
		cfg:    cfg,
		log:    log,
		client: newHTTPClient(cfg.Timeout, cfg.AllowPrivate),
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	s.render, s.renderErr = NewRenderer(cfg.Template, cfg.ContentType)
	go s.run()
	return s
}

// Publish queues ev for delivery and returns without waiting for the
// network. Events of types not configured, or of seats with no URL, are
// dropped.
func (s *Sender) Publish(_ context.Context, ev record.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	if !s.cfg.wants(ev.Type) {
		return nil
	}
	url := s.cfg.target(ev.Call.Seat)
	if url == "" {
		return nil
	}
	if s.renderErr != nil {
		return s.renderErr
	}
	body, contentType, err := s.render.Body(ev)
	if body == nil {
		return err
	}
	if err != nil {
		s.log.Warn("webhook template failed; sending the standard event body", "event_id", ev.ID, "error", err)
	}
	job := senderJob{
		req: request{URL: url, MsgID: ev.ID, Body: body, ContentType: contentType,
			Headers: s.cfg.Headers, Secret: s.cfg.Secret},
		typ:  ev.Type,
		call: ev.Call.CallID,
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.queue = append(s.queue, job)
	s.mu.Unlock()
	s.poke()
	return nil
}

func (s *Sender) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops accepting events and waits until the queue is delivered (or
// given up on) or ctx ends; then in-flight attempts are abandoned and
// ctx's error returned.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.poke()
	defer s.client.CloseIdleConnections()
	select {
	case <-s.done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-s.done
		return ctx.Err()
	}
}

func (s *Sender) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-s.wake:
			case <-s.ctx.Done():
				return
			}
			continue
		}
		job := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.deliver(job)
	}
}

func (s *Sender) deliver(job senderJob) {
	log := s.log.With("event_id", job.req.MsgID, "event", job.typ, "call_id", job.call)
	delay := s.cfg.Backoff
	for attempt := 1; ; attempt++ {
		res := post(s.ctx, s.client, job.req, time.Now())
		if res.OK() {
			log.Debug("webhook delivered", "attempt", attempt, "status", res.StatusCode)
			return
		}
		if res.Gone() || attempt >= s.cfg.MaxAttempts || s.ctx.Err() != nil {
			log.Warn("webhook not delivered", "attempt", attempt, "status", res.StatusCode, "error", res.Err)
			return
		}
		wait := delay
		if res.RetryAfter > wait {
			wait = min(res.RetryAfter, time.Minute)
		}
		log.Info("webhook attempt failed, retrying", "attempt", attempt, "status", res.StatusCode, "error", res.Err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			log.Warn("webhook not delivered: shutting down", "attempt", attempt, "error", fmt.Errorf("closed before retry"))
			return
		}
		delay *= 2
	}
}
