package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/routing"
	"github.com/callbridge/callbridge/store"
)

// The writes of the provisioning API. Each checks what the file manages,
// writes one change (with its audit entry) and reloads, so the writing
// node applies it at once and the others within a poll interval. Input
// is validated by the caller (package provision), which knows the field
// names of its requests.

// SeatManaged reports whether the file declares s, so that the API may
// not change it.
func (d *Directory) SeatManaged(s *Seat) bool {
	return s.Source == store.SourceConfig && d.cfg.Provisioning.ConfigSeats != config.ConfigSeatsBootstrap
}

// PutSeat creates (create true; ErrExists if taken) or replaces a seat's
// settings and disabled flag; DIDs are kept. detail is the audit entry's.
func (d *Directory) PutSeat(ctx context.Context, actor string, s config.Seat, create bool) error {
	old, exists := d.Snapshot().Seats[s.ID]
	switch {
	case create && exists:
		return fmt.Errorf("%w: seat %s", ErrExists, s.ID)
	case !create && !exists:
		return store.NotFound("seat", s.ID)
	case exists && d.SeatManaged(old):
		return fmt.Errorf("%w: seat %s", ErrManagedByConfig, s.ID)
	}
	action := "update"
	if create {
		action = "create"
	} else if old.Disabled != s.Disabled {
		action = map[bool]string{true: "disable", false: "enable"}[s.Disabled]
	}
	row := store.Seat{ID: s.ID, Disabled: s.Disabled, Source: store.SourceAPI, Settings: mustJSON(settingsOf(s))}
	if err := d.st.PutSeat(ctx, row, apiChange(actor, action, "seat", s.ID, seatDetail(s))); err != nil {
		return err
	}
	return d.Reload(ctx)
}

// DeleteSeat deletes a seat and releases its DIDs.
func (d *Directory) DeleteSeat(ctx context.Context, actor, id string) error {
	old, ok := d.Snapshot().Seats[id]
	if ok && d.SeatManaged(old) {
		return fmt.Errorf("%w: seat %s", ErrManagedByConfig, id)
	}
	if err := d.st.DeleteSeat(ctx, id, apiChange(actor, "delete", "seat", id, nil)); err != nil {
		return err
	}
	return d.Reload(ctx)
}

// AssignDID gives number to seat; store.ErrConflict if another seat has it.
func (d *Directory) AssignDID(ctx context.Context, actor, seat, number string, def bool) error {
	s, ok := d.Snapshot().Seats[seat]
	if !ok {
		return store.NotFound("seat", seat)
	}
	if d.SeatManaged(s) {
		return fmt.Errorf("%w: seat %s", ErrManagedByConfig, seat)
	}
	if len(s.DIDs) == 0 {
		def = true // a seat's first number is its default
	}
	err := d.st.AssignDID(ctx, store.DID{Number: number, Seat: seat, Default: def},
		apiChange(actor, "assign", "did", number, map[string]any{"seat": seat, "default": def}))
	if err != nil {
		return err
	}
	return d.Reload(ctx)
}

// ReleaseDID takes number from its seat.
func (d *Directory) ReleaseDID(ctx context.Context, actor, seat, number string) error {
	s, ok := d.Snapshot().Seats[seat]
	if !ok {
		return store.NotFound("seat", seat)
	}
	if d.SeatManaged(s) {
		return fmt.Errorf("%w: seat %s", ErrManagedByConfig, seat)
	}
	if !containsDID(s.DIDs, number) {
		return store.NotFound("did", number)
	}
	if err := d.st.ReleaseDID(ctx, number, apiChange(actor, "release", "did", number, map[string]any{"seat": seat})); err != nil {
		return err
	}
	return d.Reload(ctx)
}

func containsDID(dids []routing.DID, n string) bool {
	for _, d := range dids {
		if d.Number == n {
			return true
		}
	}
	return false
}

func (d *Directory) trunkSource(ctx context.Context, name string) (string, bool, error) {
	raw, err := d.st.LoadDirectory(ctx)
	if err != nil {
		return "", false, err
	}
	for _, t := range raw.Trunks {
		if t.Name == name {
			return t.Source, true, nil
		}
	}
	return "", false, nil
}

// PutTrunk creates (create true; ErrExists if taken) or replaces a trunk.
func (d *Directory) PutTrunk(ctx context.Context, actor string, t config.Trunk, create bool) error {
	src, exists, err := d.trunkSource(ctx, t.Name)
	switch {
	case err != nil:
		return err
	case create && exists:
		return fmt.Errorf("%w: trunk %s", ErrExists, t.Name)
	case !create && !exists:
		return store.NotFound("trunk", t.Name)
	case src == store.SourceConfig:
		return fmt.Errorf("%w: trunk %s", ErrManagedByConfig, t.Name)
	}
	action := map[bool]string{true: "create", false: "update"}[create]
	row := store.Trunk{Name: t.Name, Source: store.SourceAPI, Settings: mustJSON(storedTrunkOf(t))}
	if err := d.st.PutTrunk(ctx, row, apiChange(actor, action, "trunk", t.Name, NewTrunkView(t))); err != nil {
		return err
	}
	return d.Reload(ctx)
}

// DeleteTrunk deletes a trunk no route names (ErrInUse otherwise).
func (d *Directory) DeleteTrunk(ctx context.Context, actor, name string) error {
	src, exists, err := d.trunkSource(ctx, name)
	switch {
	case err != nil:
		return err
	case !exists:
		return store.NotFound("trunk", name)
	case src == store.SourceConfig:
		return fmt.Errorf("%w: trunk %s", ErrManagedByConfig, name)
	}
	for _, r := range d.Snapshot().Routes.Routes() {
		for _, t := range r.Trunks {
			if t.Trunk == name {
				return fmt.Errorf("%w: route %s sends calls to trunk %s", ErrInUse, r.ID, name)
			}
		}
	}
	if err := d.st.DeleteTrunk(ctx, name, apiChange(actor, "delete", "trunk", name, nil)); err != nil {
		return err
	}
	return d.Reload(ctx)
}

// ReplaceRoutes replaces the route table; it must validate against the
// trunks known (routing.NewTable).
func (d *Directory) ReplaceRoutes(ctx context.Context, actor string, routes []routing.Route) error {
	snap := d.Snapshot()
	if snap.RoutesFromConfig {
		return fmt.Errorf("%w: the route table", ErrManagedByConfig)
	}
	if _, err := routing.NewTable(routes, func(n string) bool { _, ok := snap.Trunk(n); return ok }); err != nil {
		return err
	}
	rows := make([]store.Route, len(routes))
	for i, r := range routes {
		rows[i] = store.Route{ID: r.ID, Settings: mustJSON(r)}
	}
	if err := d.st.ReplaceRoutes(ctx, rows, apiChange(actor, "replace", "routes", "", routes)); err != nil {
		return err
	}
	return d.Reload(ctx)
}

func apiChange(actor, action, kind, key string, detail any) store.Change {
	c := change(action, kind, key, detail)
	c.Actor = actor
	return c
}

// IsManaged reports whether err is a refusal to change what the file declares.
func IsManaged(err error) bool { return errors.Is(err, ErrManagedByConfig) }
