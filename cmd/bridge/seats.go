package main

import (
	"context"
	"strings"
	"time"

	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/webhook"
)

// seatCallsElsewhere counts a seat's calls that other bridge nodes on the
// same store have open, so that seats[].max_calls holds across nodes. The
// calls of a node whose heartbeat is three beats old stop counting: that
// node is gone, and its calls are about to be completed as interrupted.
// Only a shared store (PostgreSQL) has other nodes; otherwise nil.
//
// Two nodes placing the same seat's calls within the same few
// milliseconds can both admit them; the limit is exact when the seat's
// calls are placed one after another, as an agent does.
func seatCallsElsewhere(dsn string, st store.Store, node string) func(ctx context.Context, seat string) (int, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil
	}
	stale := 3 * webhook.DefaultHeartbeat
	return func(ctx context.Context, seat string) (int, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		open, err := st.OpenCalls(ctx)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, c := range open {
			if c.Seat == seat && c.Node != "" && c.Node != node && time.Since(c.UpdatedAt) < stale {
				n++
			}
		}
		return n, nil
	}
}
