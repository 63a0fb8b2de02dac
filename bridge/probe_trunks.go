package bridge

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/routing"
)

// WithTrunkList names the trunks ProbeTrunks watches (the live
// directory's); default the file's.
func WithTrunkList(list func() []config.Trunk) Option {
	return func(b *Bridge) { b.trunkList = list }
}

// probeTick is how often ProbeTrunks looks for trunks due a probe.
const probeTick = 100 * time.Millisecond

// ProbeTrunks sends OPTIONS to every trunk with an options_interval, each
// at its own interval (RFC 3261 §11), until ctx ends. Any response marks
// the trunk up; 2 probes in a row without one mark it down, and calls
// skip it (attempt result skipped, reason down) until it answers again.
func (b *Bridge) ProbeTrunks(ctx context.Context) {
	list := b.trunkList
	if list == nil {
		list = b.cfg.TrunkList
	}
	type result struct {
		name string
		ok   bool
	}
	results := make(chan result)
	next := map[string]time.Time{}
	failures := map[string]int{}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(probeTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-results:
			if r.ok {
				failures[r.name] = 0
			} else {
				failures[r.name]++
			}
			down := failures[r.name] >= trunkFailuresDown
			b.gates.SetDown(r.name, down)
		case now := <-t.C:
			for _, tr := range list() {
				every := time.Duration(0)
				if tr.OptionsInterval != nil {
					every = *tr.OptionsInterval
				}
				if every <= 0 || now.Before(next[tr.Name]) {
					continue
				}
				next[tr.Name] = now.Add(every)
				target, err := b.target(tr)
				if err != nil {
					continue
				}
				b.gates.Ensure(tr.Name, tr.MaxCalls)
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok := b.ping(ctx, target, min(every, 5*time.Second))
					select {
					case results <- result{tr.Name, ok}:
					case <-ctx.Done():
					}
				}()
			}
		}
	}
}

// ping sends one OPTIONS to a trunk and reports whether any response came.
func (b *Bridge) ping(ctx context.Context, t *trunkTarget, timeout time.Duration) bool {
	u := sip.Uri{Scheme: "sip", Host: t.uri.Host, Port: t.uri.Port}
	req := sip.NewRequest(sip.OPTIONS, u)
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "callbridge", Host: b.domain}, Params: sip.NewParams()})
	req.From().Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&sip.ToHeader{Address: u, Params: sip.NewParams()})
	req.SetTransport(t.transport)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := b.client.Do(pctx, req)
	if err != nil {
		return false
	}
	b.learnTrunkSource(res)
	return true
}

// TrunkGates returns every trunk's live state: OPTIONS health, breaker,
// calls (the stats page and /v1/admin/trunks/status).
func (b *Bridge) TrunkGates() []routing.GateStatus { return b.gates.Status() }
