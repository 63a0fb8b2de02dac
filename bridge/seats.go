package bridge

import "github.com/callbridge/callbridge/config"

// WithSeats makes the bridge read seats from lookup (the live directory
// of the provisioning API) instead of the configuration file's seats:
// a seat created, changed or disabled there applies to the next token
// presented.
func WithSeats(lookup func(id string) (*config.Seat, bool)) Option {
	return func(b *Bridge) { b.seats = lookup }
}

// seat returns the seat a token names.
func (b *Bridge) seat(id string) (*config.Seat, bool) {
	if b.seats != nil {
		return b.seats(id)
	}
	return b.cfg.Seat(id)
}
