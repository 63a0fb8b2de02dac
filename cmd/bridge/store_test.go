package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

// Deleting the SQLite file under a running bridge is noticed: /readyz
// fails and calls are refused with internal and a message for the agent.
func TestDeletedDatabaseFailsReadinessAndRefusesCalls(t *testing.T) {
	var db string
	r := startBridge(t, func(c *config.Config) {
		db = strings.TrimPrefix(c.Store.DSN, "sqlite://")
		c.Dialing.AllowedNumberTypes = []string{config.NumberTypeUnknown}
	})
	ready := func() int {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, ready())
	require.NoError(t, os.Remove(db))
	_ = os.Remove(db + "-wal")
	_ = os.Remove(db + "-shm")
	waitFor(t, "/readyz fails", func() bool { return ready() == http.StatusServiceUnavailable })
	assert.Zero(t, r.metric(t, "callbridge_store_up"))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := sigclient.Dial(ctx, "ws://"+r.addr+"/v1/ws", r.token(t), sigclient.Options{})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "x", "to": "+15550100001"}))
	e, err := c.NextError(ctx)
	require.NoError(t, err)
	assert.Equal(t, "internal", e.Code)
	assert.Contains(t, e.Message, "cannot save call records")
	assert.NotContains(t, e.Message, filepath.Base(db))
}
