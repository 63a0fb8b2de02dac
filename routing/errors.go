package routing

import "errors"

var (
	// ErrBadRoute: a route table entry that cannot be used; the message
	// names the field.
	ErrBadRoute = errors.New("routing: bad route")
	// ErrNoRoute: no route matches the destination.
	ErrNoRoute = errors.New("routing: no route for destination")
	// ErrNoTrunk: every trunk of the matching route is down, open or full.
	ErrNoTrunk = errors.New("routing: no trunk available")
)
