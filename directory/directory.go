// Package directory is the live view of seats, their DIDs, trunks and the
// route table that calls read: the configuration file's declarations and
// what the provisioning API stored, merged by the rules of
// provisioning.config_seats (docs/PROVISIONING.md).
//
// Every node keeps a Snapshot in memory and polls the store's directory
// version (provisioning.poll_interval); a change made through any node is
// loaded by all within one interval. Subscribers (OnSeatGone) hear of each
// seat that is disabled or deleted, so its live sessions can be closed.
package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/routing"
	"github.com/callbridge/callbridge/store"
)

// ActorConfig is the audit actor of changes written from the file.
const ActorConfig = "config"

// Snapshot is the directory at one version. It is never modified: a
// change makes a new one.
type Snapshot struct {
	Version int64
	// Seats by id, each with CallerIDs in order: the default DID first.
	Seats map[string]*Seat
	// Trunks in name order, defaults from sip.* applied.
	Trunks []config.Trunk
	// Routes is the route table; without routes every call goes to the
	// first trunk (Plan).
	Routes *routing.Table
	// RoutesFromConfig: the file declares the route table.
	RoutesFromConfig bool
}

// Seat is a seat as calls read it.
type Seat struct {
	config.Seat
	// DIDs are the seat's numbers, the default first.
	DIDs   []routing.DID
	Source string
	// CreatedAt and UpdatedAt are the store's.
	CreatedAt, UpdatedAt time.Time
}

// Trunk returns the named trunk.
func (s *Snapshot) Trunk(name string) (config.Trunk, bool) {
	for _, t := range s.Trunks {
		if t.Name == name {
			return t, true
		}
	}
	return config.Trunk{}, false
}

// Directory is the live directory of one node.
type Directory struct {
	st  store.Store
	cfg *config.Config
	log *slog.Logger

	mu   sync.Mutex
	snap *Snapshot                // guarded by mu; replaced whole
	subs []func(seat, why string) // guarded by mu

	reload sync.Mutex // one load at a time
}

// New writes the file's declarations to the store by the rules of
// provisioning.config_seats, loads the directory and returns it. Call Run
// to follow changes made through other nodes.
func New(ctx context.Context, st store.Store, cfg *config.Config, log *slog.Logger) (*Directory, error) {
	d := &Directory{st: st, cfg: cfg, log: log}
	if err := d.applyConfig(ctx); err != nil {
		return nil, fmt.Errorf("directory: write the configuration's seats and trunks: %w", err)
	}
	if err := d.Reload(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Snapshot returns the current directory.
func (d *Directory) Snapshot() *Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.snap
}

// Seat returns an enabled or disabled seat by id.
func (d *Directory) Seat(id string) (*config.Seat, bool) {
	s, ok := d.Snapshot().Seats[id]
	if !ok {
		return nil, false
	}
	return &s.Seat, true
}

// SeatForDID returns the seat a DID (E.164) is provisioned to: where an
// inbound call to that number rings.
func (d *Directory) SeatForDID(did string) (*config.Seat, bool) {
	for _, s := range d.Snapshot().Seats {
		for _, id := range s.CallerIDs {
			if id == did {
				return &s.Seat, true
			}
		}
	}
	return nil, false
}

// lookupTimeout bounds LookupSeat's read of the store.
const lookupTimeout = 2 * time.Second

// LookupSeat is Seat for a token just presented: a seat this node does
// not know yet, created through another node less than a poll interval
// ago, is looked for in the store before it is refused. Tokens are
// signed, so only the CRM backend can make a node look.
func (d *Directory) LookupSeat(id string) (*config.Seat, bool) {
	if s, ok := d.Seat(id); ok {
		return s, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	v, err := d.st.DirectoryVersion(ctx)
	if err != nil || v == d.Snapshot().Version {
		return nil, false
	}
	if err := d.Reload(ctx); err != nil {
		d.log.Warn("directory: reload for an unknown seat", "seat", id, "error", err)
		return nil, false
	}
	return d.Seat(id)
}

// OnSeatGone subscribes fn to seats that are disabled or deleted (why is
// "disabled" or "deleted"); fn runs on the loading goroutine and must not
// block.
func (d *Directory) OnSeatGone(fn func(seat, why string)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.subs = append(d.subs, fn)
}

// Run polls the store's directory version every interval and reloads on
// a change, until ctx ends.
func (d *Directory) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := d.st.DirectoryVersion(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("directory: poll", "error", err)
			}
			continue
		}
		if v != d.Snapshot().Version {
			if err := d.Reload(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("directory: reload", "error", err)
			}
		}
	}
}

// Reload reads the store now and notifies subscribers of the seats that
// went away. A write through the API calls it so that its own node
// applies the change at once.
func (d *Directory) Reload(ctx context.Context) error {
	d.reload.Lock()
	defer d.reload.Unlock()
	raw, err := d.st.LoadDirectory(ctx)
	if err != nil {
		return err
	}
	next, err := d.build(raw)
	if err != nil {
		return err
	}
	d.mu.Lock()
	prev := d.snap
	if prev != nil && prev.Version > next.Version {
		d.mu.Unlock()
		return nil // a concurrent reload got further
	}
	d.snap = next
	subs := slices.Clone(d.subs)
	d.mu.Unlock()
	if prev == nil {
		return nil
	}
	for id, s := range prev.Seats {
		why := ""
		switch n, ok := next.Seats[id]; {
		case !ok:
			why = "deleted"
		case n.Disabled && !s.Disabled:
			why = "disabled"
		}
		if why == "" {
			continue
		}
		d.log.Info("seat gone", "seat", id, "why", why, "version", next.Version)
		for _, fn := range subs {
			fn(id, why)
		}
	}
	return nil
}

// build turns the store's rows into a Snapshot. A row that does not
// decode is logged and left out rather than stopping every call.
func (d *Directory) build(raw store.Snapshot) (*Snapshot, error) {
	snap := &Snapshot{Version: raw.Version, Seats: make(map[string]*Seat, len(raw.Seats))}
	for _, row := range raw.Seats {
		var set SeatSettings
		if err := json.Unmarshal(row.Settings, &set); err != nil {
			d.log.Error("directory: seat settings do not decode; seat left out", "seat", row.ID, "error", err)
			continue
		}
		s := &Seat{Seat: set.seat(row.ID, row.Disabled), Source: row.Source, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}
		snap.Seats[row.ID] = s
	}
	for _, did := range raw.DIDs {
		s, ok := snap.Seats[did.Seat]
		if !ok {
			continue
		}
		rd := routing.DID{Number: did.Number, Default: did.Default}
		if did.Default {
			s.DIDs = slices.Insert(s.DIDs, 0, rd)
		} else {
			s.DIDs = append(s.DIDs, rd)
		}
	}
	for _, s := range snap.Seats {
		s.CallerIDs = make([]string, len(s.DIDs))
		for i, did := range s.DIDs {
			s.CallerIDs[i] = did.Number
		}
		if s.Country == "" && len(s.CallerIDs) > 0 {
			s.Country = routing.Region(s.CallerIDs[0])
		}
	}
	for _, row := range raw.Trunks {
		var t StoredTrunk
		if err := json.Unmarshal(row.Settings, &t); err != nil {
			d.log.Error("directory: trunk settings do not decode; trunk left out", "trunk", row.Name, "error", err)
			continue
		}
		ct := t.trunk()
		ct.Name = row.Name
		snap.Trunks = append(snap.Trunks, d.cfg.TrunkDefaults(ct))
	}
	known := func(name string) bool { _, ok := snap.Trunk(name); return ok }
	routes := make([]routing.Route, 0, len(raw.Routes))
	for _, row := range raw.Routes {
		var r routing.Route
		if err := json.Unmarshal(row.Settings, &r); err != nil {
			return nil, fmt.Errorf("directory: route %s does not decode: %w", row.ID, err)
		}
		r.ID = row.ID
		routes = append(routes, r)
	}
	table, err := routing.NewTable(routes, known)
	if err != nil {
		// Deleting a trunk that a route names is refused by the API; a
		// table broken anyway (by hand) keeps the last good one.
		d.log.Error("directory: route table does not validate; keeping the previous one", "error", err)
		if prev := d.Snapshot(); prev != nil {
			table = prev.Routes
		} else {
			table, _ = routing.NewTable(nil, nil)
		}
	}
	snap.Routes = table
	snap.RoutesFromConfig = len(d.cfg.Routes) > 0
	return snap, nil
}

// Plan returns the route for a destination and its trunk names in the
// order of this call's attempts. Without a route table every call goes
// to the first trunk.
func (s *Snapshot) Plan(e164 string) (routing.Route, []string, error) {
	if len(s.Routes.Routes()) == 0 {
		if len(s.Trunks) == 0 {
			return routing.Route{}, nil, routing.ErrNoTrunk
		}
		return routing.Route{ID: "default"}, []string{s.Trunks[0].Name}, nil
	}
	r, err := s.Routes.Match(e164)
	if err != nil {
		return routing.Route{}, nil, err
	}
	return r, r.Order(nil), nil
}

// applyConfig writes the file's seats, trunks and routes to the store:
// declarative seats replace the stored ones and config seats no longer in
// the file are deleted; bootstrap seats are written only where the store
// has none of that id. Trunks and routes of the file are always
// declarative. Nothing is written where the store already agrees, so a
// restart leaves no audit entries.
func (d *Directory) applyConfig(ctx context.Context) error {
	raw, err := d.st.LoadDirectory(ctx)
	if err != nil {
		return err
	}
	stored := map[string]store.Seat{}
	for _, s := range raw.Seats {
		stored[s.ID] = s
	}
	dids := map[string][]store.DID{}
	for _, did := range raw.DIDs {
		dids[did.Seat] = append(dids[did.Seat], did)
	}
	declarative := d.cfg.Provisioning.ConfigSeats != config.ConfigSeatsBootstrap
	inFile := map[string]bool{}
	for _, cs := range d.cfg.Seats {
		inFile[cs.ID] = true
		old, exists := stored[cs.ID]
		if exists && !declarative {
			continue
		}
		row := store.Seat{ID: cs.ID, Disabled: cs.Disabled, Source: store.SourceConfig, Settings: mustJSON(settingsOf(cs))}
		if !exists || old.Disabled != row.Disabled || old.Source != row.Source || !bytes.Equal(old.Settings, row.Settings) {
			if err := d.st.PutSeat(ctx, row, change("update", "seat", cs.ID, seatDetail(cs))); err != nil {
				return err
			}
		}
		if err := d.syncDIDs(ctx, cs, dids[cs.ID]); err != nil {
			return err
		}
	}
	if declarative {
		for id, s := range stored {
			if s.Source == store.SourceConfig && !inFile[id] {
				if err := d.st.DeleteSeat(ctx, id, change("delete", "seat", id, nil)); err != nil {
					return err
				}
			}
		}
	}
	return d.applyConfigTrunks(ctx, raw)
}

func (d *Directory) syncDIDs(ctx context.Context, cs config.Seat, have []store.DID) error {
	want := map[string]bool{}
	for i, n := range cs.CallerIDs {
		want[n] = true
		def := i == 0
		ok := slices.ContainsFunc(have, func(h store.DID) bool { return h.Number == n && h.Default == def })
		if ok {
			continue
		}
		if err := d.st.AssignDID(ctx, store.DID{Number: n, Seat: cs.ID, Default: def}, change("assign", "did", n, map[string]any{"seat": cs.ID, "default": def})); err != nil {
			return fmt.Errorf("seat %s: caller id %s: %w", cs.ID, n, err)
		}
	}
	for _, h := range have {
		if !want[h.Number] {
			if err := d.st.ReleaseDID(ctx, h.Number, change("release", "did", h.Number, map[string]any{"seat": cs.ID})); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *Directory) applyConfigTrunks(ctx context.Context, raw store.Snapshot) error {
	stored := map[string]store.Trunk{}
	for _, t := range raw.Trunks {
		stored[t.Name] = t
	}
	inFile := map[string]bool{}
	for _, t := range d.cfg.TrunkList() {
		inFile[t.Name] = true
		row := store.Trunk{Name: t.Name, Source: store.SourceConfig, Settings: mustJSON(storedTrunkOf(t))}
		if old, ok := stored[t.Name]; ok && old.Source == row.Source && bytes.Equal(old.Settings, row.Settings) {
			continue
		}
		if err := d.st.PutTrunk(ctx, row, change("update", "trunk", t.Name, NewTrunkView(t))); err != nil {
			return err
		}
	}
	if len(d.cfg.Routes) > 0 {
		rows := make([]store.Route, len(d.cfg.Routes))
		for i, r := range d.cfg.Routes {
			rows[i] = store.Route{ID: r.ID, Settings: mustJSON(RouteOf(r))}
		}
		if !sameRoutes(raw.Routes, rows) {
			if err := d.st.ReplaceRoutes(ctx, rows, change("replace", "routes", "", d.cfg.Routes)); err != nil {
				return err
			}
		}
	}
	for name, t := range stored {
		if t.Source == store.SourceConfig && !inFile[name] {
			if err := d.st.DeleteTrunk(ctx, name, change("delete", "trunk", name, nil)); err != nil {
				return err
			}
		}
	}
	return nil
}

func sameRoutes(a, b []store.Route) bool {
	return slices.EqualFunc(a, b, func(x, y store.Route) bool { return x.ID == y.ID && bytes.Equal(x.Settings, y.Settings) })
}

func change(action, kind, key string, detail any) store.Change {
	c := store.Change{Actor: ActorConfig, Action: action, Kind: kind, Key: key}
	if detail != nil {
		c.Detail = mustJSON(detail)
	}
	return c
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("directory: marshal %T: %v", v, err))
	}
	return b
}

// Route is a bridge.Router over the live directory: the route for an
// E.164 destination and its trunks in the order of this call's attempts.
func (d *Directory) Route(e164 string) (string, []config.Trunk, error) {
	snap := d.Snapshot()
	r, order, err := snap.Plan(e164)
	if err != nil {
		return "", nil, err
	}
	out := make([]config.Trunk, 0, len(order))
	for _, name := range order {
		if t, ok := snap.Trunk(name); ok {
			out = append(out, t)
		}
	}
	return r.ID, out, nil
}
