package bridge

import (
	"sync"
	"time"
)

// maxTimeline bounds a call's timeline; later notes are dropped.
const maxTimeline = 500

// TimelineEvent is one thing that happened to a call, for the stats page.
type TimelineEvent struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // "state", "sdp", "hold", "media", "rtcp", "browser" (the browser leg left or came back)
	Text string    `json:"text"`
}

// timeline is a call's events in order; it outlives the call in the
// bridge's recent calls.
type timeline struct {
	mu     sync.Mutex
	events []TimelineEvent // guarded by mu
}

func (t *timeline) note(kind, text string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.events) < maxTimeline {
		t.events = append(t.events, TimelineEvent{At: time.Now().UTC(), Kind: kind, Text: text})
	}
}

func (t *timeline) list() []TimelineEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]TimelineEvent(nil), t.events...)
}
