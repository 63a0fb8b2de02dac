package store

import "context"

// Checker is implemented by stores that can tell, without a write, that
// writes would be lost or fail: the SQLite file was deleted or replaced
// under the running bridge, say. The outbox asks it periodically.
type Checker interface {
	// Check returns nil while the store can be written durably.
	Check(ctx context.Context) error
}
