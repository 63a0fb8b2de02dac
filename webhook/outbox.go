package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store"
)

// Clock tells the outbox the time; tests inject a fake one to walk the
// retry schedule without waiting.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// DefaultSchedule returns the delays before attempts 2, 3, ... of an event:
// the Standard Webhooks example schedule. With the first attempt at once,
// the last (10th) comes about 75 hours after the event; then it is dead.
func DefaultSchedule() []time.Duration {
	return []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
	}
}

// Outbox defaults.
const (
	DefaultJitter       = 0.1 // each delay is scaled by a random factor in [0.9, 1.1]
	DefaultPollInterval = time.Second
	DefaultConcurrency  = 8
	DefaultHeartbeat    = 15 * time.Second
	// DefaultStaleAfter is how long another node's open calls may go
	// untouched (DefaultHeartbeat x 4) before this node takes them over as
	// interrupted.
	DefaultStaleAfter = 4 * DefaultHeartbeat
	// claimMargin is added to the attempt timeout to make the lease of a
	// claimed event: no other node attempts it while the claim is live.
	claimMargin = 30 * time.Second
	// MaxRetryAfter caps how long a Retry-After header can postpone an attempt.
	MaxRetryAfter = 24 * time.Hour
	// publishTimeout bounds the store write of Publish.
	publishTimeout = 10 * time.Second
)

// record.Cause of a call found open after a restart: the bridge lost it.
const (
	InterruptedQ850   = 41 // Temporary failure
	InterruptedReason = "call interrupted: bridge stopped unexpectedly"
)

// OutboxOption adjusts an Outbox; they exist for tests and tuning.
type OutboxOption func(*Outbox)

// WithClock sets the clock of the retry schedule.
func WithClock(c Clock) OutboxOption { return func(o *Outbox) { o.clock = c } }

// WithSchedule sets the delays before attempts 2, 3, ...; after the last an
// event is dead.
func WithSchedule(d []time.Duration) OutboxOption {
	return func(o *Outbox) { o.schedule = append([]time.Duration(nil), d...) }
}

// WithJitter sets the random spread of each delay (0.1 = ±10%; 0 = none).
func WithJitter(f float64) OutboxOption { return func(o *Outbox) { o.jitter = f } }

// WithPollInterval sets how often the worker looks for due events when it
// has not been woken.
func WithPollInterval(d time.Duration) OutboxOption { return func(o *Outbox) { o.poll = d } }

// WithConcurrency sets how many calls' events are delivered at once.
func WithConcurrency(n int) OutboxOption { return func(o *Outbox) { o.concurrency = n } }

// WithHeartbeat sets how often open call records are touched, which bounds
// the end time written for calls interrupted by a crash.
func WithHeartbeat(d time.Duration) OutboxOption { return func(o *Outbox) { o.heartbeat = d } }

// WithStaleAfter sets how long another node's open calls may go untouched
// before this node completes them as interrupted; 0 = 4 heartbeats.
func WithStaleAfter(d time.Duration) OutboxOption { return func(o *Outbox) { o.staleAfter = d } }

// Outbox is the durable record.Publisher. Publish commits the call record and the
// event to the store before returning; a worker delivers due events, one
// at a time per call and in order, retrying on the schedule, honouring
// Retry-After, disabling an endpoint that answers 410 and parking events
// as dead after the last attempt. A bridge killed at any moment delivers
// every committed event after its restart (at least once: receivers
// deduplicate on webhook-id).
//
// Several outboxes (bridge nodes) may share one store, each with its own
// SenderConfig.Node. An event is attempted by the node that claimed it,
// under a lease longer than an attempt, so two nodes never send one event
// at once, and a call's events still go one at a time and in order. At
// start-up a node completes only its own calls from a previous run (and
// calls with no node); the calls of a node that stopped its heartbeat are
// completed by whichever live node notices first.
type Outbox struct {
	st          store.Store
	cfg         SenderConfig
	log         *slog.Logger
	client      *http.Client
	render      *Renderer
	clock       Clock
	schedule    []time.Duration
	jitter      float64
	poll        time.Duration
	concurrency int
	heartbeat   time.Duration
	staleAfter  time.Duration
	node        string        // this node's id in the store
	lease       time.Duration // how long a claimed event is this node's

	wake  chan struct{}      // capacity 1: new or requeued events
	stop  chan struct{}      // closed by Close: finish the batch, then exit
	abort context.Context    // cancelled when Close gives up waiting: abandons attempts
	kill  context.CancelFunc // cancels abort
	done  chan struct{}      // closed when the worker and heartbeat have exited

	mu     sync.Mutex
	closed bool // guarded by mu

	healthEvery time.Duration // store check and held-event retry period
	hmu         sync.Mutex
	held        []record.Event // published, not yet committed, in order; guarded by hmu
	failErr     error          // the last commit failure; guarded by hmu
	failSince   time.Time      // when events began to be held; guarded by hmu
	checkErr    error          // the store's own Check; guarded by hmu
}

var _ record.Publisher = (*Outbox)(nil)

// NewOutbox opens the outbox on st. It first completes the calls the store
// still holds as in progress (their bridge died with them): each gets a
// call.completed with status failed, hangup.by bridge and interrupted
// true. Call it before the bridge places calls. Close stops it; st stays
// open and is the caller's to close.
func NewOutbox(ctx context.Context, st store.Store, cfg SenderConfig, log *slog.Logger, opts ...OutboxOption) (*Outbox, error) {
	cfg = cfg.withDefaults()
	o := &Outbox{
		st:          st,
		cfg:         cfg,
		log:         log,
		client:      newHTTPClient(cfg.Timeout, cfg.AllowPrivate),
		clock:       systemClock{},
		schedule:    DefaultSchedule(),
		jitter:      DefaultJitter,
		poll:        DefaultPollInterval,
		concurrency: DefaultConcurrency,
		heartbeat:   DefaultHeartbeat,
		healthEvery: DefaultHealthInterval,
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.concurrency < 1 {
		o.concurrency = 1
	}
	if o.heartbeat <= 0 {
		o.heartbeat = DefaultHeartbeat
	}
	if o.healthEvery <= 0 {
		o.healthEvery = DefaultHealthInterval
	}
	if o.staleAfter <= 0 {
		o.staleAfter = 4 * o.heartbeat
	}
	if o.node = cfg.Node; o.node == "" {
		o.node = DefaultNode()
	}
	o.lease = cfg.Timeout + claimMargin
	var err error
	if o.render, err = NewRenderer(cfg.Template, cfg.ContentType); err != nil {
		return nil, err
	}
	// A previous run of this node died with these calls.
	if err := o.adopt(ctx, store.Adoption{Node: o.node, Own: true, Now: o.clock.Now()}); err != nil {
		return nil, err
	}
	o.abort, o.kill = context.WithCancel(context.Background())
	o.checkStore()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); o.run() }()
	go func() { defer wg.Done(); o.beat() }()
	go func() { defer wg.Done(); o.watchStore() }()
	go func() { wg.Wait(); close(o.done) }()
	return o, nil
}

// TemplateFallbacks is how many events were sent with the standard body
// because webhook.template failed on them.
func (o *Outbox) TemplateFallbacks() uint64 { return o.render.Fallbacks() }

// Store returns the store the outbox writes to.
func (o *Outbox) Store() store.Store { return o.st }

// Publish commits ev and the call record it carries, then wakes the
// worker. It waits for the store write (milliseconds), never for the
// network. When the store fails, ev is held in memory and committed, in
// order, once the store writes again (see Healthy). It does not depend on ctx being live: the bridge may publish
// call.completed from a call context that has just been cancelled.
func (o *Outbox) Publish(ctx context.Context, ev record.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := o.publishOrHold(ctx, ev); err != nil {
		return err
	}
	o.Kick()
	return nil
}

func (o *Outbox) commit(ctx context.Context, ev record.Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	now := o.clock.Now()
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = now
	}
	rec, err := json.Marshal(ev.Call)
	if err != nil {
		return fmt.Errorf("webhook: encode call record: %w", err)
	}
	call := store.Call{
		ID: ev.Call.CallID, Seat: ev.Call.Seat, Status: ev.Call.Status,
		StartedAt: ev.Call.StartedAt, EndedAt: ev.Call.EndedAt,
		Final: ev.Type == record.TypeCompleted, Record: rec, UpdatedAt: now, Node: o.node,
	}
	if call.StartedAt.IsZero() {
		call.StartedAt = ev.CreatedAt
	}
	var sev *store.Event
	if url := o.cfg.target(ev.Call.Seat); url != "" && o.cfg.wants(ev.Type) {
		payload, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("webhook: encode event: %w", err)
		}
		body, contentType, err := o.render.Body(ev)
		if body == nil {
			return err
		}
		if err != nil {
			o.log.Warn("webhook template failed; sending the standard event body", "event_id", ev.ID, "call_id", ev.Call.CallID, "error", err)
		}
		sev = &store.Event{
			ID: ev.ID, CallID: ev.Call.CallID, Type: ev.Type, CreatedAt: ev.CreatedAt,
			URL: url, ContentType: contentType, Body: body, Payload: payload,
			NextAttemptAt: now,
		}
	}
	if err := o.st.Record(ctx, call, sev); err != nil {
		return &storeError{fmt.Errorf("webhook: commit %s %s: %w", ev.Type, ev.ID, err)}
	}
	return nil
}

// Kick wakes the worker to look for due events now.
func (o *Outbox) Kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Close stops delivery. Attempts in flight may finish until ctx ends, then
// they are abandoned (and retried after the next start). Undelivered
// events stay in the store.
func (o *Outbox) Close(ctx context.Context) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		<-o.done
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	close(o.stop)
	defer o.client.CloseIdleConnections()
	select {
	case <-o.done:
		o.kill()
		return nil
	case <-ctx.Done():
		o.kill()
		<-o.done
		return ctx.Err()
	}
}

// Redeliver makes one event pending again with a fresh schedule, re-enables
// its endpoint if a 410 had disabled it, and wakes the worker.
func (o *Outbox) Redeliver(ctx context.Context, eventID string) error {
	ev, err := o.st.GetEvent(ctx, eventID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: event %s", ErrNotFound, eventID)
		}
		return err
	}
	if err := o.st.EnableEndpoint(ctx, ev.URL); err != nil {
		return err
	}
	if err := o.st.Requeue(ctx, eventID, o.clock.Now()); err != nil {
		return err
	}
	o.Kick()
	return nil
}

// RedeliverDead requeues every dead event, re-enabling all disabled
// endpoints, and returns how many were requeued.
func (o *Outbox) RedeliverDead(ctx context.Context) (int, error) {
	eps, err := o.st.DisabledEndpoints(ctx)
	if err != nil {
		return 0, err
	}
	for _, ep := range eps {
		if err := o.st.EnableEndpoint(ctx, ep.URL); err != nil {
			return 0, err
		}
	}
	n, err := o.st.RequeueDead(ctx, o.clock.Now())
	if err != nil {
		return 0, err
	}
	o.Kick()
	return n, nil
}

// DefaultNode is the node id of an outbox whose SenderConfig.Node is
// empty: the host name, which a restarted bridge keeps.
func DefaultNode() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "bridge"
}

// Node returns this outbox's node id.
func (o *Outbox) Node() string { return o.node }

// adopt takes over the open calls that a selects and completes each as
// interrupted: the bridge that had them died.
func (o *Outbox) adopt(ctx context.Context, a store.Adoption) error {
	open, err := o.st.AdoptCalls(ctx, a)
	if err != nil {
		return fmt.Errorf("webhook: recover open calls: %w", err)
	}
	for _, c := range open {
		var rec record.CallRecord
		if err := json.Unmarshal(c.Record, &rec); err != nil || rec.CallID == "" {
			rec = record.CallRecord{CallID: c.ID, Seat: c.Seat, Direction: record.DirectionOutbound, StartedAt: c.StartedAt}
		}
		ended := c.UpdatedAt
		if ended.IsZero() || ended.Before(rec.StartedAt) {
			ended = o.clock.Now()
		}
		rec.Status = record.StatusFailed
		rec.EndedAt = ended
		rec.Interrupted = true
		rec.DurationS = 0
		if !rec.AnsweredAt.IsZero() && ended.After(rec.AnsweredAt) {
			rec.DurationS = int(ended.Sub(rec.AnsweredAt) / time.Second)
		}
		rec.Hangup = &record.Cause{By: record.ByBridge, Q850: InterruptedQ850, Reason: InterruptedReason}
		ev := record.NewEvent(record.TypeCompleted, rec)
		ev.CreatedAt = o.clock.Now()
		if err := o.commit(ctx, ev); err != nil {
			return fmt.Errorf("webhook: recover call %s: %w", c.ID, err)
		}
		if c.Node == "" || c.Node == o.node {
			o.log.Warn("call interrupted by a bridge restart; recorded as failed", "call_id", c.ID, "seat", rec.Seat, "event_id", ev.ID)
		} else {
			o.log.Warn("call of a bridge node that stopped its heartbeat; recorded as failed",
				"call_id", c.ID, "seat", rec.Seat, "event_id", ev.ID, "node", c.Node, "last_seen", c.UpdatedAt)
		}
	}
	return nil
}

// beat touches this node's open calls so a crash leaves a recent
// last-known time and the other nodes know it is alive, and completes the
// calls of nodes that stopped doing so. It only judges others after its
// own heartbeat has held for staleAfter: after an outage of the store no
// node had a chance to beat, and none is dead for that.
func (o *Outbox) beat() {
	t := time.NewTicker(o.heartbeat)
	defer t.Stop()
	healthySince := o.clock.Now() // only this goroutine uses it
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
		}
		now := o.clock.Now()
		if err := o.st.TouchNode(o.abort, o.node, now); err != nil {
			if o.abort.Err() == nil {
				o.log.Warn("touching open call records failed", "error", err)
			}
			healthySince = time.Time{}
			continue
		}
		if healthySince.IsZero() {
			healthySince = now
		}
		if now.Sub(healthySince) < o.staleAfter {
			continue
		}
		err := o.adopt(o.abort, store.Adoption{Node: o.node, StaleBefore: now.Add(-o.staleAfter), Now: now})
		if err != nil && o.abort.Err() == nil {
			o.log.Warn("taking over the calls of stopped nodes failed", "error", err)
		}
	}
}

func (o *Outbox) run() {
	for {
		select {
		case <-o.stop:
			return
		default:
		}
		now := o.clock.Now()
		// Claim only what starts at once: each claim's lease covers one attempt.
		due, err := o.st.Claim(o.abort, o.node, now, o.lease, o.concurrency)
		if err != nil {
			if o.abort.Err() != nil {
				return
			}
			o.log.Error("claiming due webhook events failed", "error", err)
		}
		if len(due) > 0 {
			o.deliverBatch(due)
			continue
		}
		wait := o.poll
		if next, ok, err := o.st.NextDue(o.abort); err == nil && ok {
			if d := next.Sub(now); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-o.stop:
			t.Stop()
			return
		case <-o.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

func (o *Outbox) deliverBatch(evs []store.Event) {
	disabled := map[string]string{}
	if eps, err := o.st.DisabledEndpoints(o.abort); err == nil {
		for _, ep := range eps {
			disabled[ep.URL] = ep.Reason
		}
	}
	sem := make(chan struct{}, o.concurrency)
	var wg sync.WaitGroup
	for _, ev := range evs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					o.log.Error("webhook delivery panicked", "event_id", ev.ID, "panic", r)
				}
			}()
			o.deliver(ev, disabled)
		}()
	}
	wg.Wait()
}

// deliver makes one attempt of ev and records the outcome.
func (o *Outbox) deliver(ev store.Event, disabled map[string]string) {
	log := o.log.With("event_id", ev.ID, "event", ev.Type, "call_id", ev.CallID)
	n := ev.Attempts + 1
	now := o.clock.Now()
	a := store.Attempt{EventID: ev.ID, N: n, At: now}
	upd := store.EventUpdate{Attempts: n}

	if reason, off := disabled[ev.URL]; off {
		a.Error = "not sent: endpoint disabled (" + reason + ")"
		upd.State, upd.LastError = store.StateDead, a.Error
		o.save(log, a, upd)
		return
	}
	res := post(o.abort, o.client, request{
		URL: ev.URL, MsgID: ev.ID, Body: ev.Body, ContentType: ev.ContentType,
		Headers: o.cfg.Headers, Secret: o.cfg.Secret,
	}, time.Now())
	now = o.clock.Now()
	a.StatusCode, a.Duration = res.StatusCode, res.Duration
	upd.LastStatus = res.StatusCode
	if res.Err != nil {
		a.Error = res.Err.Error()
		upd.LastError = a.Error
	}
	round := n - ev.RetryBase // attempts since the event was (re)queued
	switch {
	case res.OK():
		upd.State, upd.DeliveredAt = store.StateDelivered, now
		log.Debug("webhook delivered", "attempt", n, "status", res.StatusCode)
	case res.Gone():
		upd.State = store.StateDead
		reason := fmt.Sprintf("410 Gone from %s", ev.URL)
		if err := o.st.DisableEndpoint(o.abort, store.Endpoint{URL: ev.URL, DisabledAt: now, Reason: "410 Gone"}); err != nil {
			log.Error("disabling webhook endpoint failed", "error", err)
		}
		log.Warn("webhook endpoint answered 410 Gone; disabled until an operator redelivers", "reason", reason)
	case errors.Is(res.Err, ErrPrivateTarget):
		upd.State = store.StateDead
		log.Error("webhook target is loopback/private and webhook.allow_private is off; event parked as dead")
	case round > len(o.schedule):
		upd.State = store.StateDead
		log.Error("webhook delivery failed for the last time; event parked as dead", "attempts", n, "status", res.StatusCode, "error", res.Err)
	default:
		delay := o.delay(round)
		if ra := min(res.RetryAfter, MaxRetryAfter); ra > delay {
			delay = ra
		}
		upd.State, upd.NextAttemptAt = store.StatePending, now.Add(delay)
		log.Info("webhook attempt failed; will retry", "attempt", n, "status", res.StatusCode, "error", res.Err, "retry_in", delay)
	}
	o.save(log, a, upd)
}

// delay returns the wait after the round-th failed attempt, with jitter.
func (o *Outbox) delay(round int) time.Duration {
	d := o.schedule[round-1]
	if o.jitter > 0 {
		d = time.Duration(float64(d) * (1 - o.jitter + 2*o.jitter*rand.Float64()))
	}
	return d
}

func (o *Outbox) save(log *slog.Logger, a store.Attempt, upd store.EventUpdate) {
	// Record the outcome even when Close is abandoning attempts: the store
	// write is short, and losing it would only cause a duplicate delivery.
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := o.st.RecordAttempt(ctx, a, upd); err != nil {
		log.Error("recording webhook attempt failed", "error", err)
	}
}
