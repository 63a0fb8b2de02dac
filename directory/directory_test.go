package directory

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/routing"
	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/postgres"
	"github.com/callbridge/callbridge/store/postgres/pgtest"
	"github.com/callbridge/callbridge/store/sqlite"
)

var (
	server    *pgtest.Server
	serverErr error
)

func TestMain(m *testing.M) {
	server, serverErr = pgtest.New()
	code := m.Run()
	if server != nil {
		if err := server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// twoNodes opens two store handles on one new database, as two bridge
// processes would: PostgreSQL, and one SQLite file.
func twoNodes(t *testing.T) map[string]func(t *testing.T) (store.Store, store.Store) {
	return map[string]func(t *testing.T) (store.Store, store.Store){
		"postgres": func(t *testing.T) (store.Store, store.Store) {
			pgtest.Require(t, serverErr)
			dsn := server.NewDatabase(t)
			a, err := postgres.Open(context.Background(), dsn)
			require.NoError(t, err)
			b, err := postgres.Open(context.Background(), dsn)
			require.NoError(t, err)
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		},
		"sqlite": func(t *testing.T) (store.Store, store.Store) {
			p := filepath.Join(t.TempDir(), "bridge.db")
			a, err := sqlite.Open(context.Background(), p)
			require.NoError(t, err)
			b, err := sqlite.Open(context.Background(), p)
			require.NoError(t, err)
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		},
	}
}

func memStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

func baseConfig() *config.Config {
	c := &config.Config{
		Auth: config.Auth{TokenSecret: "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", AdminToken: "admin-token-0123456789"},
		Trunks: []config.Trunk{
			{Name: "a", Address: "sip:127.0.0.1:5081"},
			{Name: "b", Address: "sip:127.0.0.1:5082", Identity: config.TrunkIdentity{Header: "pai"}},
		},
		Routes: []config.Route{
			{ID: "uk", Prefix: "+44", Trunks: []config.RouteTarget{{Trunk: "b"}, {Trunk: "a"}}},
			{ID: "rest", Prefix: "+", Trunks: []config.RouteTarget{{Trunk: "a"}, {Trunk: "b"}}},
		},
		Seats: []config.Seat{
			{ID: "agent-7", SIPUsername: "agent7", SIPPassword: "pw7", CallerIDs: []string{"+14155550100", "+442071838750"}},
		},
	}
	c.SetDefaults()
	return c
}

func open(t *testing.T, st store.Store, cfg *config.Config) *Directory {
	t.Helper()
	d, err := New(context.Background(), st, cfg, quiet)
	require.NoError(t, err)
	return d
}

func TestConfigDeclarative(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	cfg := baseConfig()
	d := open(t, st, cfg)

	snap := d.Snapshot()
	s, ok := snap.Seats["agent-7"]
	require.True(t, ok)
	assert.Equal(t, store.SourceConfig, s.Source)
	assert.Equal(t, []string{"+14155550100", "+442071838750"}, s.CallerIDs, "the first caller id is the default")
	assert.Equal(t, "pw7", s.SIPPassword)
	assert.Equal(t, "US", s.Country, "country of the first caller id")
	assert.Equal(t, 1, s.MaxCalls)
	require.Len(t, snap.Trunks, 2)
	assert.Equal(t, "pai", snap.Trunks[1].Identity.Header)
	route, order, err := snap.Plan("+442079460000")
	require.NoError(t, err)
	assert.Equal(t, "uk", route.ID)
	assert.Equal(t, []string{"b", "a"}, order)
	_, order, err = snap.Plan("+14155550199")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, order)
	id, trunks, err := d.Route("+442079460000")
	require.NoError(t, err)
	assert.Equal(t, "uk", id)
	require.Len(t, trunks, 2)
	assert.Equal(t, "b", trunks[0].Name)
	assert.Equal(t, "sip:127.0.0.1:5082", trunks[0].Address)

	// A restart with the same file writes nothing.
	v := snap.Version
	d2 := open(t, st, cfg)
	assert.Equal(t, v, d2.Snapshot().Version)

	// The API may not change what the file declares.
	require.ErrorIs(t, d.PutSeat(ctx, "admin", s.Seat, false), ErrManagedByConfig)
	require.ErrorIs(t, d.DeleteTrunk(ctx, "admin", "a"), ErrManagedByConfig)
	require.ErrorIs(t, d.ReplaceRoutes(ctx, "admin", nil), ErrManagedByConfig)

	// A seat gone from the file is gone from the store; a changed one follows.
	cfg2 := baseConfig()
	cfg2.Seats[0].CallerIDs = []string{"+442071838750"}
	cfg2.Seats = append(cfg2.Seats, config.Seat{ID: "agent-8", CallerIDs: []string{"+14155550101"}})
	cfg2.SetDefaults()
	d3 := open(t, st, cfg2)
	s = d3.Snapshot().Seats["agent-7"]
	assert.Equal(t, []string{"+442071838750"}, s.CallerIDs)
	cfg3 := baseConfig()
	d4 := open(t, st, cfg3)
	_, ok = d4.Snapshot().Seats["agent-8"]
	assert.False(t, ok)
}

func TestConfigBootstrap(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	cfg := baseConfig()
	cfg.Provisioning.ConfigSeats = config.ConfigSeatsBootstrap
	d := open(t, st, cfg)
	s := d.Snapshot().Seats["agent-7"].Seat
	s.Country, s.MaxCalls = "GB", 3
	require.NoError(t, d.PutSeat(ctx, "admin", s, false), "bootstrap seats belong to the API")

	// A restart leaves the API's version alone.
	d2 := open(t, st, cfg)
	got := d2.Snapshot().Seats["agent-7"]
	assert.Equal(t, "GB", got.Country)
	assert.Equal(t, 3, got.MaxCalls)
	assert.Equal(t, store.SourceAPI, got.Source)
}

func TestAPIWrites(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	cfg := baseConfig()
	cfg.Routes = nil
	d := open(t, st, cfg)

	seat := config.Seat{ID: "agent-9", SIPUsername: "u9", SIPPassword: "p9", Country: "GB"}
	require.NoError(t, d.PutSeat(ctx, "admin", seat, true))
	require.ErrorIs(t, d.PutSeat(ctx, "admin", seat, true), ErrExists)
	require.ErrorIs(t, d.PutSeat(ctx, "admin", config.Seat{ID: "nobody"}, false), store.ErrNotFound)

	require.NoError(t, d.AssignDID(ctx, "admin", "agent-9", "+442071838751", false))
	require.NoError(t, d.AssignDID(ctx, "admin", "agent-9", "+14155550150", false))
	s := d.Snapshot().Seats["agent-9"]
	assert.Equal(t, []string{"+442071838751", "+14155550150"}, s.CallerIDs, "the first number becomes the default")
	require.NoError(t, d.AssignDID(ctx, "admin", "agent-9", "+14155550150", true))
	s = d.Snapshot().Seats["agent-9"]
	assert.Equal(t, []string{"+14155550150", "+442071838751"}, s.CallerIDs)
	require.ErrorIs(t, d.AssignDID(ctx, "admin", "agent-9", "+14155550100", false), store.ErrConflict, "agent-7's number")

	// Without a route table, every call goes to the first trunk.
	_, order, err := d.Snapshot().Plan("+442079460000")
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, order)
	require.NoError(t, d.ReplaceRoutes(ctx, "crm", []routing.Route{{ID: "uk", Country: "GB", Trunks: []routing.Target{{Trunk: "b"}, {Trunk: "a"}}}}))
	_, order, err = d.Snapshot().Plan("+442079460000")
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "a"}, order)
	_, _, err = d.Snapshot().Plan("+14155550199")
	require.ErrorIs(t, err, routing.ErrNoRoute)
	require.Error(t, d.ReplaceRoutes(ctx, "crm", []routing.Route{{ID: "x", Prefix: "+", Trunks: []routing.Target{{Trunk: "zz"}}}}))

	require.NoError(t, d.PutTrunk(ctx, "crm", config.Trunk{Name: "c", Address: "sip:127.0.0.1:5083", Username: "acct", Password: "secret"}, true))
	c, ok := d.Snapshot().Trunk("c")
	require.True(t, ok)
	assert.Equal(t, "secret", c.Password, "kept for the trunk's digest challenges")
	require.NoError(t, d.DeleteTrunk(ctx, "crm", "c"))
	require.ErrorIs(t, d.DeleteTrunk(ctx, "crm", "c"), store.ErrNotFound)

	// Every change is in the audit log, who and what, never a password.
	log, _, err := st.Audit(ctx, store.AuditFilter{Kind: "seat", Key: "agent-9"})
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, "admin", log[0].Actor)
	assert.Equal(t, "create", log[0].Action)
	assert.NotContains(t, string(log[0].Detail), "p9")
	all, _, err := st.Audit(ctx, store.AuditFilter{Limit: store.MaxLimit})
	require.NoError(t, err)
	for _, e := range all {
		assert.NotContains(t, string(e.Detail), "secret")
		assert.NotContains(t, string(e.Detail), "pw7")
	}
}

// A change through one node reaches the other without restart, and a
// disabled or deleted seat is announced on both.
func TestTwoNodes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for name, opener := range twoNodes(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sa, sb := opener(t)
			cfg := baseConfig()
			a := open(t, sa, cfg)
			b := open(t, sb, cfg)

			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			for _, d := range []*Directory{a, b} {
				wg.Add(1)
				go func() { defer wg.Done(); d.Run(ctx, 20*time.Millisecond) }()
			}
			gone := map[string]chan string{"a": make(chan string, 4), "b": make(chan string, 4)}
			a.OnSeatGone(func(seat, why string) { gone["a"] <- seat + " " + why })
			b.OnSeatGone(func(seat, why string) { gone["b"] <- seat + " " + why })

			require.NoError(t, a.PutSeat(ctx, "admin", config.Seat{ID: "new", Country: "GB"}, true))
			require.NoError(t, a.AssignDID(ctx, "admin", "new", "+442071838799", true))
			_, ok := a.Seat("new")
			require.True(t, ok, "the writing node applies its change at once")
			require.Eventually(t, func() bool {
				s, ok := b.Snapshot().Seats["new"]
				return ok && len(s.CallerIDs) == 1
			}, 10*time.Second, 5*time.Millisecond, "the other node loads the change without restart")

			s := b.Snapshot().Seats["new"].Seat
			s.Disabled = true
			require.NoError(t, b.PutSeat(ctx, "admin", s, false))
			for _, n := range []string{"a", "b"} {
				select {
				case got := <-gone[n]:
					assert.Equal(t, "new disabled", got, "node %s", n)
				case <-time.After(10 * time.Second):
					t.Fatalf("node %s never heard of the disabled seat", n)
				}
			}
			require.NoError(t, a.DeleteSeat(ctx, "admin", "new"))
			for _, n := range []string{"a", "b"} {
				select {
				case got := <-gone[n]:
					assert.Equal(t, "new deleted", got, "node %s", n)
				case <-time.After(10 * time.Second):
					t.Fatalf("node %s never heard of the deleted seat", n)
				}
			}
		})
	}
}

// A seat created through one node is found by the other at once, before
// its next poll.
func TestLookupSeatBeforePoll(t *testing.T) {
	for name, opener := range twoNodes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sa, sb := opener(t)
			cfg := baseConfig()
			a := open(t, sa, cfg)
			b := open(t, sb, cfg)
			_, ok := b.LookupSeat("fresh")
			require.False(t, ok)
			require.NoError(t, a.PutSeat(ctx, "admin", config.Seat{ID: "fresh", Country: "GB"}, true))
			_, ok = b.Seat("fresh")
			require.False(t, ok, "b has not polled")
			s, ok := b.LookupSeat("fresh")
			require.True(t, ok)
			assert.Equal(t, "GB", s.Country)
		})
	}
}
