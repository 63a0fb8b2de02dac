package routing

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func to(names ...string) []Target {
	out := make([]Target, len(names))
	for i, n := range names {
		out[i] = Target{Trunk: n}
	}
	return out
}

func TestMatchLongestFirst(t *testing.T) {
	tbl, err := NewTable([]Route{
		{ID: "rest", Prefix: "+", Trunks: to("a")},
		{ID: "uk", Prefix: "+44", Trunks: to("b", "a")},
		{ID: "london", Prefix: "+4420", Trunks: to("c")},
		{ID: "canada", Country: "CA", Trunks: to("d")},
		{ID: "nanp", Prefix: "+1", Trunks: to("e")},
		{ID: "toronto", Prefix: "+1416", Trunks: to("f")},
		{ID: "uk-again", Prefix: "+44", Trunks: to("g")},
	}, nil)
	require.NoError(t, err)
	for _, tc := range []struct{ dest, route string }{
		{"+33142685300", "rest"},
		{"+447700900123", "uk"}, // ties go to the first in the table
		{"+442071838750", "london"},
		{"+16135550100", "canada"},  // a country beats its calling code
		{"+14165550100", "toronto"}, // a longer prefix beats a country
		{"+12125550100", "nanp"},
		{"+15550100001", "nanp"},
	} {
		t.Run(tc.dest, func(t *testing.T) {
			r, err := tbl.Match(tc.dest)
			require.NoError(t, err)
			assert.Equal(t, tc.route, r.ID)
		})
	}

	only, err := NewTable([]Route{{ID: "uk", Country: "GB", Trunks: to("b")}}, nil)
	require.NoError(t, err)
	_, err = only.Match("+33142685300")
	require.ErrorIs(t, err, ErrNoRoute)
	r, err := only.Match("+447700900123")
	require.NoError(t, err)
	assert.Equal(t, "uk", r.ID, "a test-range number still has its country")
}

func TestRouteValidationNamesTheField(t *testing.T) {
	known := func(n string) bool { return n == "a" || n == "b" }
	for _, tc := range []struct {
		name  string
		route Route
		want  string
	}{
		{"no id", Route{Prefix: "+", Trunks: to("a")}, "id: required"},
		{"no match", Route{ID: "r", Trunks: to("a")}, "prefix: set country or prefix"},
		{"both", Route{ID: "r", Country: "GB", Prefix: "+44", Trunks: to("a")}, "country: set country or prefix, not both"},
		{"bad country", Route{ID: "r", Country: "XX", Trunks: to("a")}, "country: \"XX\""},
		{"bad prefix", Route{ID: "r", Prefix: "44", Trunks: to("a")}, "prefix: \"44\""},
		{"letters in prefix", Route{ID: "r", Prefix: "+4a", Trunks: to("a")}, "prefix"},
		{"no trunks", Route{ID: "r", Prefix: "+"}, "trunks: list at least one"},
		{"unknown trunk", Route{ID: "r", Prefix: "+", Trunks: to("a", "z")}, "trunks[1].trunk: no trunk named \"z\""},
		{"twice", Route{ID: "r", Prefix: "+", Trunks: to("a", "a")}, "trunks[1].trunk: \"a\" listed twice"},
		{"negative weight", Route{ID: "r", Prefix: "+", Trunks: []Target{{Trunk: "a", Weight: -1}}}, "trunks[0].weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.route.Validate(known)
			require.ErrorIs(t, err, ErrBadRoute)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := NewTable([]Route{{ID: "r", Prefix: "+", Trunks: to("a")}, {ID: "r", Prefix: "+1", Trunks: to("b")}}, known)
	require.ErrorIs(t, err, ErrBadRoute)
	var p RouteProblem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, "routes[1].id", p.Field)
	_, err = NewTable([]Route{{ID: "r", Prefix: "+", Trunks: to("a")}, {ID: "s", Prefix: "+1", Trunks: to("a", "q")}}, known)
	require.ErrorAs(t, err, &p)
	assert.Equal(t, "routes[1].trunks[1].trunk", p.Field)
}

func TestOrderWeights(t *testing.T) {
	r := Route{ID: "r", Prefix: "+", Trunks: []Target{
		{Trunk: "first"},
		{Trunk: "heavy", Weight: 3},
		{Trunk: "light", Weight: 1},
		{Trunk: "last"},
	}}
	rnd := rand.New(rand.NewPCG(1, 2))
	firsts := map[string]int{}
	const n = 4000
	for range n {
		o := r.Order(rnd)
		require.Len(t, o, 4)
		assert.Equal(t, "first", o[0])
		assert.Equal(t, "last", o[3])
		assert.ElementsMatch(t, []string{"heavy", "light"}, o[1:3])
		firsts[o[1]]++
	}
	// 3:1 within a few percent: 75 % ± 5.
	share := float64(firsts["heavy"]) / n
	assert.InDelta(t, 0.75, share, 0.05, "heavy first in %.3f of calls", share)

	plain := Route{Trunks: to("a", "b", "c")}
	assert.Equal(t, []string{"a", "b", "c"}, plain.Order(nil), "without weights the order is the table's")
}

// The failover table of docs/TRUNKS.md.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		o    Outcome
		want Verdict
	}{
		{Outcome{Status: 200}, Answered},
		{Outcome{Status: 0}, Failover},
		{Outcome{Status: 408}, Failover},
		{Outcome{Status: 500}, Failover},
		{Outcome{Status: 502}, Failover},
		{Outcome{Status: 503}, Failover},
		{Outcome{Status: 503, RetryAfter: time.Minute}, Failover},
		{Outcome{Status: 504}, Failover},
		{Outcome{Status: 404}, Final},
		{Outcome{Status: 480}, Final},
		{Outcome{Status: 486}, Final},
		{Outcome{Status: 600}, Final},
		{Outcome{Status: 603}, Final},
		{Outcome{Status: 403}, Final},
		{Outcome{Status: 484}, Final},
		{Outcome{Status: 302}, Final},
		{Outcome{Status: 0, Cancelled: true}, Final},
		{Outcome{Status: 487, Cancelled: true}, Final},
	} {
		got, why := Classify(tc.o)
		assert.Equal(t, tc.want, got, "%+v (%s)", tc.o, why)
		assert.NotEmpty(t, why)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBreaker(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	b := NewBreaker(3, time.Minute, clk.now)
	fault := Outcome{Status: 502}

	// Busy and answered calls never count against the trunk.
	for range 10 {
		require.True(t, b.Allow())
		b.Report(Outcome{Status: 486})
	}
	for range 2 {
		require.True(t, b.Allow())
		b.Report(fault)
	}
	require.True(t, b.Allow())
	b.Report(Outcome{Status: 200})
	assert.Equal(t, 0, b.Status().Faults, "an answer resets the count")

	for range 3 {
		require.True(t, b.Allow())
		b.Report(fault)
	}
	assert.Equal(t, Open, b.Status().State)
	assert.False(t, b.Allow())
	clk.add(59 * time.Second)
	assert.False(t, b.Allow())

	// After the cooldown: one trial, whose fault opens it again.
	clk.add(time.Second)
	require.True(t, b.Allow())
	assert.Equal(t, HalfOpen, b.Status().State)
	assert.False(t, b.Allow(), "one trial at a time")
	b.Report(Outcome{Status: 0})
	assert.Equal(t, Open, b.Status().State)
	clk.add(time.Minute)
	require.True(t, b.Allow())
	b.Report(Outcome{Status: 200})
	assert.Equal(t, Closed, b.Status().State)

	// A 503 with Retry-After opens at once, for that long.
	require.True(t, b.Allow())
	b.Report(Outcome{Status: 503, RetryAfter: 5 * time.Minute})
	st := b.Status()
	assert.Equal(t, Open, st.State)
	assert.True(t, st.OpenUntil.Equal(clk.now().Add(5*time.Minute)))
	clk.add(4 * time.Minute)
	assert.False(t, b.Allow())
	clk.add(time.Minute)
	assert.True(t, b.Allow())
}

func TestGates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGates(1, time.Minute, nil)
		g.Sync(map[string]int{"a": 1, "b": 0})

		rel, skip := g.Acquire("a")
		require.Empty(t, skip)
		_, skip = g.Acquire("a")
		assert.Equal(t, SkipFull, skip, "max_calls 1 holds one call")
		done := rel(Outcome{Status: 200})
		_, skip = g.Acquire("a")
		assert.Equal(t, SkipFull, skip, "an answered call keeps its slot")
		done()
		rel, skip = g.Acquire("a")
		require.Empty(t, skip)
		rel(Outcome{Status: 503})()
		_, skip = g.Acquire("a")
		assert.Equal(t, SkipOpen, skip, "one fault opens a breaker of threshold 1")
		time.Sleep(time.Minute)
		rel, skip = g.Acquire("a")
		require.Empty(t, skip, "half-open after the cooldown")
		rel(Outcome{Status: 200})()

		g.SetDown("b", true)
		_, skip = g.Acquire("b")
		assert.Equal(t, SkipDown, skip)
		g.SetDown("b", false)
		_, skip = g.Acquire("b")
		assert.Empty(t, skip)
		_, skip = g.Acquire("zz")
		assert.Equal(t, SkipUnknown, skip)

		// A trunk kept by Sync keeps its state; one dropped is gone.
		g.SetDown("b", true)
		g.Sync(map[string]int{"b": 5})
		st := g.Status()
		require.Len(t, st, 1)
		assert.True(t, st[0].Down)
		assert.Equal(t, 5, st[0].MaxCalls)
		assert.Equal(t, 1, st[0].Active)
	})
}

func TestPickCallerID(t *testing.T) {
	dids := []DID{
		{Number: "+14155550100", Default: true}, // San Francisco
		{Number: "+442071838750"},               // London
		{Number: "+441614960000"},               // Manchester
		{Number: "+12125550100"},                // New York
	}
	for _, tc := range []struct {
		dest, want, why string
	}{
		{"+441614960123", "+441614960000", WhySameArea},
		{"+442079460000", "+442071838750", WhySameArea},
		{"+447700900123", "+442071838750", WhySameCountry}, // a mobile: first UK DID
		{"+12125550199", "+12125550100", WhySameArea},
		{"+13055550100", "+14155550100", WhySameCountry}, // Miami: no 305 DID
		{"+33142685300", "+14155550100", WhyDefault},
		{"+16135550100", "+14155550100", WhyDefault}, // Canada shares +1 but is another country
	} {
		t.Run(tc.dest, func(t *testing.T) {
			c, ok := PickCallerID(tc.dest, dids)
			require.True(t, ok)
			assert.Equal(t, tc.want, c.Number)
			assert.Equal(t, tc.why, c.Why)
		})
	}
	c, ok := PickCallerID("+33142685300", []DID{{Number: "+442071838750"}, {Number: "+441614960000"}})
	require.True(t, ok)
	assert.Equal(t, Choice{Number: "+442071838750", Why: WhyDefault}, c, "no default marked: the first")
	_, ok = PickCallerID("+33142685300", nil)
	assert.False(t, ok)
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.ObserveAttempt("uk", "a", Outcome{Status: 503}, 200*time.Millisecond)
	m.ObserveAttempt("uk", "b", Outcome{Status: 200}, 400*time.Millisecond)
	m.ObserveAttempt("rest", "a", Outcome{Status: 486}, 600*time.Millisecond)
	m.ObserveCall("uk", "answered")
	trunks, routes := m.Snapshot()
	require.Len(t, trunks, 2)
	a := trunks[0]
	assert.Equal(t, Counts{Name: "a", Attempts: 2, Answers: 0, Failovers: 1, ASR: 0, PDDMean: 0.4}, stripSums(a))
	assert.InDelta(t, 1.0, trunks[1].ASR, 1e-9)
	require.Len(t, routes, 2)
	assert.Equal(t, "rest", routes[0].Name)
	assert.InDelta(t, 0.5, routes[1].ASR, 1e-9)

	want := `
# HELP callbridge_trunk_failovers_total Attempts that moved the call on to the next trunk, per trunk left and route.
# TYPE callbridge_trunk_failovers_total counter
callbridge_trunk_failovers_total{route="uk",trunk="a"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "callbridge_trunk_failovers_total"))
}

func stripSums(c Counts) Counts {
	c.pddSum, c.pddN = 0, 0
	return c
}
