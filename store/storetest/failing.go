package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/callbridge/callbridge/store"
)

// ErrDiskFull is what a Failing store's writes return while failing.
var ErrDiskFull = errors.New("storetest: database or disk is full")

// Failing wraps a store whose writes can be made to fail, as a full disk
// or a read-only volume makes them: reads keep working.
type Failing struct {
	store.Store
	fail atomic.Bool
}

// NewFailing wraps st; it writes until Fail(true).
func NewFailing(st store.Store) *Failing { return &Failing{Store: st} }

// Fail makes every write fail (true) or succeed again (false).
func (f *Failing) Fail(on bool) { f.fail.Store(on) }

func (f *Failing) err() error {
	if f.fail.Load() {
		return ErrDiskFull
	}
	return nil
}

// Record fails while failing.
func (f *Failing) Record(ctx context.Context, c store.Call, ev *store.Event) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Record(ctx, c, ev)
}

// TouchNode fails while failing.
func (f *Failing) TouchNode(ctx context.Context, node string, now time.Time) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.TouchNode(ctx, node, now)
}

// RecordAttempt fails while failing.
func (f *Failing) RecordAttempt(ctx context.Context, a store.Attempt, u store.EventUpdate) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.RecordAttempt(ctx, a, u)
}
