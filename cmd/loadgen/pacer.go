package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// pacer sends every call's next frame in both directions every 20 ms from
// a few goroutines (shards), instead of a ticker per stream. It records
// when each frame left, and how late its ticks were: when the generator
// itself falls behind, that shows here, not as the bridge's latency.
type pacer struct {
	opus  [][]byte
	frame time.Duration

	mu    sync.Mutex
	calls []*loadCall // guarded by mu

	lateMu sync.Mutex
	late   []time.Duration // tick lateness; guarded by lateMu
}

func newPacer(opus [][]byte) *pacer {
	return &pacer{opus: opus, frame: 20 * time.Millisecond}
}

func (p *pacer) add(c *loadCall) {
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
}

// run paces shards goroutines until ctx ends.
func (p *pacer) run(ctx context.Context, shards int) {
	var wg sync.WaitGroup
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.shard(ctx, s, shards)
		}()
	}
	wg.Wait()
}

func (p *pacer) shard(ctx context.Context, s, shards int) {
	start := time.Now().Add(time.Duration(s) * p.frame / time.Duration(shards))
	var lates []time.Duration
	defer func() {
		p.lateMu.Lock()
		p.late = append(p.late, lates...)
		p.lateMu.Unlock()
	}()
	t := time.NewTimer(p.frame)
	defer t.Stop()
	for tick := 1; ; tick++ {
		due := start.Add(time.Duration(tick) * p.frame)
		t.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if l := time.Since(due); len(lates) < 1<<20 {
			lates = append(lates, l)
		}
		p.mu.Lock()
		calls := p.calls
		p.mu.Unlock()
		for i := s; i < len(calls); i += shards {
			p.sendFrames(calls[i])
		}
	}
}

func (p *pacer) sendFrames(c *loadCall) {
	if c.streamUp.Load() && c.browser != nil {
		n := c.upFrame
		c.upFrame++
		c.up.sentFrame(n, time.Now())
		if err := c.browser.sendOpus(n, p.opus[int(n)%len(p.opus)]); err != nil && n%50 == 0 && debugOn {
			fmt.Fprintf(os.Stderr, "call %d: uplink frame %d: %v\n", c.idx, n, err)
		}
	}
	if c.streamDown.Load() {
		if r := c.farRTP(); r != nil {
			n := c.downFrame
			c.downFrame++
			now := time.Now()
			c.down.sentFrame(n, now)
			if c.downTS != nil {
				c.downTS.sentFrame(n, now)
			}
			_ = r.send(n)
		}
	}
}

func (p *pacer) lateness() []time.Duration {
	p.lateMu.Lock()
	defer p.lateMu.Unlock()
	return append([]time.Duration(nil), p.late...)
}

// debugOn (LOADGEN_DEBUG set) prints what a run would otherwise drop.
var debugOn = os.Getenv("LOADGEN_DEBUG") != ""
