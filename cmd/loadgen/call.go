package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
)

// loadCall is one simulated call: the agent's browser on one side, the
// far end's dialog on the other, and what was measured in between.
type loadCall struct {
	idx    int
	number string // dialled E.164 number: the far end finds the call by it

	browser *browser

	// set-up, unix nanos (0 = did not happen)
	callAt       int64        // the browser sent call
	inviteAt     atomic.Int64 // the far end got the INVITE
	answeredAt   int64        // the browser got call_state answered
	firstDownAt  atomic.Int64 // the browser got the first downlink packet
	hangupAt     int64        // the browser sent hangup
	endedAt      int64        // the browser got call_state ended
	farByeAt     atomic.Int64 // the far end got the BYE
	farAnsweredC chan struct{}

	up   uplinkStats   // browser -> far end
	down downlinkStats // far end -> browser
	// downTS, when set, matches the downlink by timestamp instead of the
	// payload mark: when the middle transcodes it (rtpengine to Opus).
	downTS   *uplinkStats
	ngCallID string // the call's id at rtpengine

	mu        sync.Mutex
	dlg       *sipgo.DialogServerSession // guarded by mu
	rtp       *farRTP                    // set before the 200; guarded by mu for writes
	err       error                      // first failure; guarded by mu
	upFrame   uint32                     // next uplink frame; pacer only
	downFrame uint32                     // next downlink frame; pacer only

	streamUp   atomic.Bool // the browser sends audio
	streamDown atomic.Bool // the far end sends audio
}

func newLoadCall(idx int, downByTimestamp bool) *loadCall {
	c := &loadCall{idx: idx, number: fmt.Sprintf("+1555%07d", 100000+idx), farAnsweredC: make(chan struct{})}
	if downByTimestamp {
		c.downTS = &uplinkStats{tick: 960}
	}
	return c
}

func (c *loadCall) setDialog(d *sipgo.DialogServerSession, r *farRTP) {
	c.mu.Lock()
	c.dlg, c.rtp = d, r
	c.mu.Unlock()
}

func (c *loadCall) dialog() *sipgo.DialogServerSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dlg
}

func (c *loadCall) farRTP() *farRTP {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtp
}

func (c *loadCall) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *loadCall) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// farAnswered starts the downlink as the far end sends its 200.
func (c *loadCall) farAnswered() {
	c.streamDown.Store(true)
	close(c.farAnsweredC)
}

func (c *loadCall) farEndBye() {
	c.farByeAt.Store(time.Now().UnixNano())
	c.streamDown.Store(false)
}

// place runs the signaling of one call: connect the peer, call, wait for
// the answer. It returns when the call is answered.
func (c *loadCall) place(ctx context.Context, cs *clients, url, token string) error {
	b, err := dialBrowser(ctx, c, url, token)
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	c.browser = b
	if err := b.connect(ctx, cs.api); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	c.streamUp.Store(true) // browsers send as soon as the track is live
	c.callAt = time.Now().UnixNano()
	if err := b.send(map[string]any{"type": "call", "request_id": "load", "to": c.number}); err != nil {
		return err
	}
	for {
		m, err := b.next(ctx, "call_state")
		if err != nil {
			return fmt.Errorf("call: %w", err)
		}
		var st struct {
			CallID string `json:"call_id"`
			State  string `json:"state"`
		}
		_ = json.Unmarshal(m.Raw, &st)
		switch st.State {
		case "answered":
			c.answeredAt = time.Now().UnixNano()
			c.browser.callID = st.CallID
			return nil
		case "ended":
			return errors.New("call ended before answer")
		}
	}
}

// hangUp stops both streams, lets the packets in flight land, then hangs
// up from the browser and waits for the end.
func (c *loadCall) hangUp(ctx context.Context, drain time.Duration) error {
	c.streamUp.Store(false)
	c.streamDown.Store(false)
	select {
	case <-time.After(drain):
	case <-ctx.Done():
	}
	b := c.browser
	c.hangupAt = time.Now().UnixNano()
	if err := b.send(map[string]any{"type": "hangup", "call_id": b.callID}); err != nil {
		return err
	}
	for {
		m, err := b.next(ctx, "call_state")
		if err != nil {
			return fmt.Errorf("hangup: %w", err)
		}
		var st struct{ State string }
		_ = json.Unmarshal(m.Raw, &st)
		if st.State == "ended" {
			c.endedAt = time.Now().UnixNano()
			return nil
		}
	}
}

func (c *loadCall) close() {
	if c.browser != nil {
		c.browser.close()
	}
	if r := c.farRTP(); r != nil {
		r.close()
	}
}

// uplinkStats: what the browser sent (per frame, when) and what reached
// the far end (per packet, the G.711 timestamp and when).
type uplinkStats struct {
	tick uint32 // timestamp units per frame at the receiver; 0 = 160 (G.711)
	mu   sync.Mutex
	sent []int64 // unix nanos of frame n's send, by n
	arr  []arrival
}

type arrival struct {
	ts uint32
	at int64
}

func (u *uplinkStats) sentFrame(n uint32, at time.Time) {
	u.mu.Lock()
	for uint32(len(u.sent)) < n {
		u.sent = append(u.sent, 0) // a skipped frame (never happens with one pacer)
	}
	u.sent = append(u.sent, at.UnixNano())
	u.mu.Unlock()
}

func (u *uplinkStats) arrived(ts uint32, at time.Time) {
	u.mu.Lock()
	u.arr = append(u.arr, arrival{ts, at.UnixNano()})
	u.mu.Unlock()
}

// downlinkStats: what the far end sent and what the browser received,
// matched by the frame number in the payload mark.
type downlinkStats struct {
	mu        sync.Mutex
	sent      []int64 // unix nanos of frame n's send, by n
	recv      []int64 // unix nanos of frame n's arrival, by n; 0 = not (yet) received
	dups      int
	unmarked  atomic.Int64
	misrouted atomic.Int64
}

func (d *downlinkStats) sentFrame(n uint32, at time.Time) {
	d.mu.Lock()
	for uint32(len(d.sent)) < n {
		d.sent = append(d.sent, 0)
	}
	d.sent = append(d.sent, at.UnixNano())
	d.mu.Unlock()
}

func (d *downlinkStats) arrived(frame uint32, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if int(frame) >= len(d.sent) {
		d.misrouted.Add(1) // a frame never sent: corrupted mark
		return
	}
	for len(d.recv) <= int(frame) {
		d.recv = append(d.recv, 0)
	}
	if d.recv[frame] != 0 {
		d.dups++
		return
	}
	d.recv[frame] = at.UnixNano()
}

// dirResult is one direction of one call, analysed.
type dirResult struct {
	expected, received, lost, late int
	latencies                      []time.Duration
}

// analyseDown: every frame from the first one received to the last one
// sent is expected (frames sent before the bridge had the call's media
// path are not counted).
func (d *downlinkStats) analyse(late time.Duration) dirResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	var r dirResult
	first := -1
	for i, at := range d.recv {
		if at != 0 {
			first = i
			break
		}
	}
	if first < 0 {
		r.expected = len(d.sent)
		r.lost = r.expected
		return r
	}
	for n := first; n < len(d.sent); n++ {
		r.expected++
		if n >= len(d.recv) || d.recv[n] == 0 {
			r.lost++
			continue
		}
		r.received++
		l := time.Duration(d.recv[n] - d.sent[n])
		r.latencies = append(r.latencies, l)
		if l > late {
			r.late++
		}
	}
	return r
}

// analyse matches far-end packets to browser frames. The bridge
// re-packetizes the decoded Opus as G.711 one packet per 20 ms frame and
// its timestamp advances with the media clock, so the far end's timestamp
// gives each packet's frame relative to the first one received (f_j). The
// browser frame of the first one (i0) is unknown: the bridge drops what
// comes before the trunk answers. It is the largest i0 with no packet
// arriving before its frame was sent, i.e. i0 = min_j(K(arrival_j) - f_j),
// K(t) being the last frame sent by t. This is exact when at least one
// packet of the call took less than one frame (20 ms) end to end, which
// holds on loopback unless the bridge is saturated from the first packet
// on; otherwise latencies read low by whole frames.
func (u *uplinkStats) analyse(late time.Duration) dirResult {
	u.mu.Lock()
	defer u.mu.Unlock()
	var r dirResult
	if len(u.arr) == 0 || len(u.sent) == 0 {
		r.expected = len(u.sent)
		r.lost = r.expected
		return r
	}
	ts0 := u.arr[0].ts
	last := func(t int64) int { // K(t)
		return sort.Search(len(u.sent), func(i int) bool { return u.sent[i] > t }) - 1
	}
	i0 := len(u.sent)
	frames := make([]int, len(u.arr))
	for j, a := range u.arr {
		tick := int(u.tick)
		if tick == 0 {
			tick = 160
		}
		f := int(int32(a.ts-ts0)) / tick
		frames[j] = f
		i0 = min(i0, last(a.at)-f)
	}
	if i0 < 0 {
		i0 = 0
	}
	seen := make(map[int]bool, len(u.arr))
	for j, a := range u.arr {
		i := i0 + frames[j]
		if i < 0 || i >= len(u.sent) || seen[i] {
			continue
		}
		seen[i] = true
		r.received++
		l := time.Duration(a.at - u.sent[i])
		r.latencies = append(r.latencies, l)
		if l > late {
			r.late++
		}
	}
	r.expected = len(u.sent) - i0
	r.lost = max(0, r.expected-r.received)
	return r
}
