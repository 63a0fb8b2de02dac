package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/bridge/siptest"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/store/sqlite"
	"github.com/callbridge/callbridge/store/storetest"
	"github.com/callbridge/callbridge/webhook"
)

// With the store unable to write, the call in progress keeps its events
// (held, then committed once the store writes again), new calls are
// refused with internal and a message the widget can show, and calls are
// placed again once it recovers.
func TestStoreFailureRefusesCallsAndRecovers(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sq, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sq.Close() })
	st := storetest.NewFailing(sq)
	ob, err := webhook.NewOutbox(context.Background(), st, webhook.SenderConfig{}, log, webhook.WithHealthInterval(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ob.Close(ctx)
	})

	uas := siptest.Start(t, siptest.Script{RTPPort: 30100})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := config.Default()
	cfg.Auth.TokenSecret = "0123456789abcdef0123456789abcdef-x"
	cfg.SIP.Listen = "udp:" + conn.LocalAddr().String()
	cfg.SIP.Trunk = "sip:" + uas.Addr
	cfg.SIP.RTPPorts = "22000-22999"
	cfg.SIP.OptionsInterval = 0
	cfg.Dialing.AllowedNumberTypes = []string{config.NumberTypeUnknown}
	cfg.Seats = []config.Seat{{ID: "s1", CallerIDs: []string{"+14155550100"}, Country: "US", MaxCalls: 2}}
	cfg.SetDefaults()
	b, err := bridge.New(cfg, bridge.WithLogger(log), bridge.WithEvents(ob))
	require.NoError(t, err)
	go func() { _ = b.ServeSIP(conn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
		_ = b.Close()
		_ = conn.Close()
	})
	seat, _ := cfg.Seat("s1")
	originate := func(st *states) (bridge.CallControl, error) {
		return b.Originate(context.Background(), bridge.CallRequest{
			Auth: &bridge.SeatAuth{Seat: seat, CallerIDs: seat.CallerIDs}, RequestID: "r", To: "+15550100001",
			Leg: &fakeLeg{}, OnState: st.on,
		})
	}

	st.Fail(true)
	first := newStates()
	c, err := originate(first)
	require.NoError(t, err, "the failure is not known before a write")
	first.wait(t, bridge.StateAnswered, 5*time.Second)
	require.Eventually(t, func() bool { return ob.Healthy() != nil }, 5*time.Second, 5*time.Millisecond)

	_, err = originate(newStates())
	require.ErrorIs(t, err, bridge.ErrStoreFailing)
	var coded interface{ SignalingCode() string }
	require.ErrorAs(t, err, &coded)
	assert.Equal(t, "internal", coded.SignalingCode())
	assert.Contains(t, err.Error(), "cannot save call records")
	assert.NotContains(t, err.Error(), "bridge.db", "no server detail reaches the browser")

	c.Hangup()
	first.wait(t, bridge.StateEnded, 5*time.Second)
	_, err = st.GetCall(context.Background(), c.CallID())
	require.Error(t, err, "not in the store while it fails")

	st.Fail(false)
	require.Eventually(t, func() bool { return ob.Healthy() == nil }, 10*time.Second, 5*time.Millisecond)
	rec, err := st.GetCall(context.Background(), c.CallID())
	require.NoError(t, err, "the held events were committed")
	assert.True(t, rec.Final, "up to call.completed")

	again := newStates()
	_, err = originate(again)
	require.NoError(t, err, "calls are placed again")
	again.wait(t, bridge.StateAnswered, 5*time.Second)
}
