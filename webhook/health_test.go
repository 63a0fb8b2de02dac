package webhook

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/sqlite"
	"github.com/callbridge/callbridge/store/storetest"
)

// While the store cannot write, published events are held in memory, in
// order, and Healthy says so; once it writes again every one is committed
// and delivered, and Healthy is nil.
func TestOutboxHoldsEventsWhileTheStoreFails(t *testing.T) {
	st := storetest.NewFailing(openStore(t))
	rc := newReceiver(t, testSecret)
	ob, err := NewOutbox(context.Background(), st, SenderConfig{URL: rc.URL(), Secret: testSecret, AllowPrivate: true},
		testLogger(t), WithJitter(0), WithPollInterval(20*time.Millisecond), WithHealthInterval(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ob.Close(ctx)
	})
	require.NoError(t, ob.Healthy())

	st.Fail(true)
	evs := callEvents("held-call")
	for _, ev := range evs {
		require.NoError(t, ob.Publish(context.Background(), ev), "accepted while the store fails")
	}
	err = ob.Healthy()
	require.ErrorIs(t, err, ErrStoreFailing)
	assert.ErrorIs(t, err, storetest.ErrDiskFull)
	assert.Equal(t, 4, ob.Held())
	_, err = st.GetCall(context.Background(), "held-call")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing reached the store yet")

	st.Fail(false)
	require.Eventually(t, func() bool { return ob.Healthy() == nil }, 10*time.Second, 5*time.Millisecond)
	for _, want := range evs {
		r := rc.next()
		require.NoError(t, r.Err)
		assert.Equal(t, want.ID, r.Header.Get(HeaderID), "delivered in order")
	}
	c, err := st.GetCall(context.Background(), "held-call")
	require.NoError(t, err)
	assert.True(t, c.Final, "the record is complete")
}

// A deleted SQLite file is noticed: the store would keep writing to the
// unlinked file and lose everything at exit.
func TestOutboxNoticesDeletedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	st, err := sqlite.Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ob, err := NewOutbox(context.Background(), st, SenderConfig{}, testLogger(t), WithHealthInterval(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ob.Close(ctx)
	})
	require.NoError(t, ob.Healthy())
	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool { return ob.Healthy() != nil }, 10*time.Second, 5*time.Millisecond)
	assert.ErrorIs(t, ob.Healthy(), sqlite.ErrFileGone)

	ev := callEvents("after-delete")[0]
	require.NoError(t, ob.Publish(context.Background(), ev))
	assert.Equal(t, 1, ob.Held(), "held, not written to the unlinked file")
}
