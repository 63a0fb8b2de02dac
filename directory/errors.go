package directory

import "errors"

var (
	// ErrManagedByConfig: the API was asked to change a seat, trunk or the
	// route table that the configuration file declares.
	ErrManagedByConfig = errors.New("directory: managed by the configuration file")
	// ErrExists: a create for an id that is taken.
	ErrExists = errors.New("directory: already exists")
	// ErrInUse: a trunk that a route still names.
	ErrInUse = errors.New("directory: in use")
)
