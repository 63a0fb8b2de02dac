package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store"
)

// DefaultHealthInterval is how often the outbox checks its store and
// retries the events it holds in memory.
const DefaultHealthInterval = 2 * time.Second

// WithHealthInterval sets how often the store is checked and held events
// are retried.
func WithHealthInterval(d time.Duration) OutboxOption {
	return func(o *Outbox) { o.healthEvery = d }
}

// ErrStoreFailing: the store cannot write (or would lose what it writes);
// call events are held in memory until it can.
var ErrStoreFailing = errors.New("webhook: store failing")

// storeError marks a commit failure of the store itself (worth retrying),
// as opposed to an event that cannot be encoded.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// Healthy returns nil while the store takes writes, else an error wrapping
// ErrStoreFailing that says since when and why. The bridge refuses new
// calls and /readyz fails while it is not nil.
func (o *Outbox) Healthy() error {
	o.hmu.Lock()
	defer o.hmu.Unlock()
	switch {
	case o.checkErr != nil:
		return fmt.Errorf("%w: %w", ErrStoreFailing, o.checkErr)
	case len(o.held) > 0:
		return fmt.Errorf("%w since %s: %d call events held in memory: %w", ErrStoreFailing,
			o.failSince.UTC().Format(time.RFC3339), len(o.held), o.failErr)
	}
	return nil
}

// Held is the number of call events waiting in memory for the store.
func (o *Outbox) Held() int {
	o.hmu.Lock()
	defer o.hmu.Unlock()
	return len(o.held)
}

// publishOrHold commits ev, or when the store fails (now, or an earlier
// event still waits), holds it in memory behind the others, to be
// committed in order as soon as the store writes again. A held event is
// accepted: Publish returns nil. Only a bridge that exits while holding
// events loses them (Close logs each one).
func (o *Outbox) publishOrHold(ctx context.Context, ev record.Event) error {
	o.hmu.Lock()
	if len(o.held) > 0 || o.checkErr != nil {
		o.held = append(o.held, ev)
		o.hmu.Unlock()
		return nil
	}
	o.hmu.Unlock()
	err := o.commit(ctx, ev)
	var se *storeError
	if !errors.As(err, &se) {
		return err
	}
	o.hmu.Lock()
	if len(o.held) == 0 {
		o.failSince = o.clock.Now()
		o.log.Error("the store cannot write: call events are held in memory and new calls refused until it can", "error", err)
	}
	o.failErr = err
	o.held = append(o.held, ev)
	o.hmu.Unlock()
	return nil
}

// watchStore checks the store and retries held events until stop, then
// tries once more and logs whatever it still holds.
func (o *Outbox) watchStore() {
	t := time.NewTicker(o.healthEvery)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			o.checkStore()
			o.flushHeld()
			o.logLost()
			return
		case <-t.C:
			o.checkStore()
			o.flushHeld()
		}
	}
}

func (o *Outbox) checkStore() {
	c, ok := o.st.(store.Checker)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	err := c.Check(ctx)
	cancel()
	o.hmu.Lock()
	was := o.checkErr
	o.checkErr = err
	o.hmu.Unlock()
	switch {
	case err != nil && was == nil:
		o.log.Error("the store cannot be written durably: call events are held in memory and new calls refused", "error", err)
	case err == nil && was != nil:
		o.log.Info("the store check passes again")
	}
}

// flushHeld commits held events in order while the store takes them.
func (o *Outbox) flushHeld() {
	for {
		o.hmu.Lock()
		if len(o.held) == 0 || o.checkErr != nil {
			o.hmu.Unlock()
			return
		}
		ev := o.held[0]
		o.hmu.Unlock()
		err := o.commit(context.Background(), ev)
		var se *storeError
		if errors.As(err, &se) {
			o.hmu.Lock()
			o.failErr = err
			o.hmu.Unlock()
			return
		}
		if err != nil {
			o.log.Error("held call event cannot be encoded; dropped", "event_id", ev.ID, "error", err)
		}
		o.hmu.Lock()
		o.held = o.held[1:]
		left := len(o.held)
		o.hmu.Unlock()
		o.Kick()
		if left == 0 {
			o.log.Info("the store writes again; every held call event is committed")
		}
	}
}

// logLost writes every event still held at shutdown to the log, whole, so
// an operator can recover them: the process is ending and they were never
// committed.
func (o *Outbox) logLost() {
	o.hmu.Lock()
	held := o.held
	o.held = nil
	o.hmu.Unlock()
	for _, ev := range held {
		payload, _ := json.Marshal(ev)
		o.log.Error("call event lost: the store could not write it before shutdown", "event_id", ev.ID, "call_id", ev.Call.CallID, "event", string(payload))
	}
}
