package bridge

import (
	"fmt"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/phone"
	"github.com/callbridge/callbridge/routing"
)

// WithSeats makes the bridge read seats from lookup (the live directory
// of the provisioning API) instead of the configuration file's seats:
// a seat created, changed or disabled there applies to the next token
// presented.
func WithSeats(lookup func(id string) (*config.Seat, bool)) Option {
	return func(b *Bridge) { b.seats = lookup }
}

// WithDIDs sets where an inbound call's DID finds its seat (the live
// directory); by default the file's seats' caller ids.
func WithDIDs(lookup func(did string) (*config.Seat, bool)) Option {
	return func(b *Bridge) { b.dids = lookup }
}

// seat returns the seat a token names.
func (b *Bridge) seat(id string) (*config.Seat, bool) {
	if b.seats != nil {
		return b.seats(id)
	}
	return b.cfg.Seat(id)
}

// PickCallerID chooses the caller id of a call to `to` (as typed) when the
// agent picks none (local presence, routing.PickCallerID): among the
// caller ids the token allows, the one in the destination's area code,
// else its country, else the seat's default (the first). The widget asks
// for it ahead of the call to show the choice and why.
//
// to is already normalized; a number outside E.164 (an emergency number
// the dialing rules let through) gets the default.
func (b *Bridge) PickCallerID(sa *SeatAuth, to string) (routing.Choice, error) {
	if len(sa.CallerIDs) == 0 {
		return routing.Choice{}, fmt.Errorf("%w: the seat has no caller id", ErrCallerIDNotAllowed)
	}
	if !phone.IsE164(to) {
		return routing.Choice{Number: sa.CallerIDs[0], Why: routing.WhyDefault}, nil
	}
	return pick(sa, to), nil
}

func pick(sa *SeatAuth, e164 string) routing.Choice {
	dids := make([]routing.DID, len(sa.CallerIDs))
	for i, n := range sa.CallerIDs {
		dids[i] = routing.DID{Number: n, Default: i == 0}
	}
	c, _ := routing.PickCallerID(e164, dids)
	return c
}

// PreviewCallerID is PickCallerID that also returns `to` in E.164.
func (b *Bridge) PreviewCallerID(sa *SeatAuth, to string) (string, routing.Choice, error) {
	e164, err := phone.Normalize(to, sa.Seat.Country)
	if err != nil {
		return "", routing.Choice{}, fmt.Errorf("%w: %v", ErrInvalidNumber, err)
	}
	if len(sa.CallerIDs) == 0 {
		return "", routing.Choice{}, fmt.Errorf("%w: the seat has no caller id", ErrCallerIDNotAllowed)
	}
	return e164, pick(sa, e164), nil
}
