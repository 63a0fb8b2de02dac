package demotrunk

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Values of CallRecord.ByeFrom.
const (
	ByeRemote = "remote" // the trunk sent BYE
	ByeCaller = "caller" // the caller (the bridge) sent BYE
	ByeCancel = "cancel" // the caller sent CANCEL before answer
)

// maxReceived caps CallRecord.Received: 30 s of 8 kHz audio.
const maxReceived = 30 * 8000

// CallRecord is what the trunk saw of one call (one Call-ID). Values returned
// by Calls and WaitCall are snapshots: their slices are copies, and the
// requests in Invites must be treated as read-only.
type CallRecord struct {
	CallID string
	// From and To are the URIs of the From/To headers (no display name, no
	// tag), RequestURI the Request-URI, all of the last INVITE received
	// (the one accepted, once it was).
	From, To, RequestURI string
	// FromUser and ToUser are the user parts of From and To, e.g. "+14155550100".
	FromUser, ToUser string
	// AuthUser is the digest user name that passed, "" when no auth.
	AuthUser string
	// Invites holds every INVITE received outside a dialog for this
	// Call-ID, including the unauthenticated first one.
	Invites []*sip.Request
	// Responses lists the status codes sent for those INVITEs, in order
	// (100 included; 487 when a CANCEL ended the call).
	Responses []int
	// Codec is CodecPCMU or CodecPCMA once an offer was accepted.
	Codec string
	// Received is the decoded 8 kHz audio that arrived (capped at 30 s).
	Received []int16
	// Digits are the RFC 4733 telephone-events received, e.g. "12#".
	Digits string
	// ByeFrom says who ended an established or early call: ByeRemote,
	// ByeCaller or ByeCancel; "" while it runs or if it never got that far.
	ByeFrom string
	// Ended is true once the trunk is done with the call: a final non-2xx
	// response was sent for the last INVITE, or the dialog ended.
	Ended bool
}

// Has reports whether status code was sent for the call's INVITEs.
func (r CallRecord) Has(code int) bool { return slices.Contains(r.Responses, code) }

func (r *CallRecord) clone() CallRecord {
	c := *r
	c.Invites = slices.Clone(r.Invites)
	c.Responses = slices.Clone(r.Responses)
	c.Received = slices.Clone(r.Received)
	return c
}

// recorder keeps the call records and wakes up WaitCall on every change.
type recorder struct {
	mu      sync.Mutex
	calls   []*CallRecord          // guarded by mu, oldest first
	byID    map[string]*CallRecord // guarded by mu
	changed chan struct{}          // guarded by mu; closed and replaced on each change
}

func newRecorder() *recorder {
	return &recorder{byID: map[string]*CallRecord{}, changed: make(chan struct{})}
}

// update runs f on the record of callID (created on first use).
func (r *recorder) update(callID string, f func(*CallRecord)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.byID[callID]
	if !ok {
		rec = &CallRecord{CallID: callID}
		r.byID[callID] = rec
		r.calls = append(r.calls, rec)
	}
	f(rec)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) snapshot() []CallRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]CallRecord, len(r.calls))
	for i, c := range r.calls {
		out[i] = c.clone()
	}
	return out
}

func (r *recorder) wait(ctx context.Context, pred func(CallRecord) bool) (CallRecord, error) {
	for {
		r.mu.Lock()
		ch := r.changed
		for _, c := range r.calls {
			if snap := c.clone(); pred(snap) {
				r.mu.Unlock()
				return snap, nil
			}
		}
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return CallRecord{}, fmt.Errorf("demotrunk: waiting for call: %w", context.Cause(ctx))
		}
	}
}
