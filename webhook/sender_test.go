package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/callbridge/callbridge/record"
)

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func newTestSender(t *testing.T, cfg SenderConfig) *Sender {
	t.Helper()
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	cfg.AllowPrivate = true
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	s := NewSender(cfg, testLogger(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func callEvents(callID string) []record.Event {
	c := SampleEvents()[1].Call
	c.CallID = callID
	var out []record.Event
	for _, typ := range []string{record.TypeInitiated, record.TypeRinging, record.TypeAnswered, record.TypeCompleted} {
		out = append(out, record.NewEvent(typ, c))
	}
	return out
}

func TestSenderDeliversSignedInOrder(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rc := newReceiver(t, testSecret)
	s := newTestSender(t, SenderConfig{URL: rc.URL()})
	evs := callEvents("call-1")
	for _, ev := range evs {
		require.NoError(t, s.Publish(context.Background(), ev))
	}
	for _, want := range evs {
		r := rc.next()
		require.NoError(t, r.Err, "signature must verify")
		assert.Equal(t, want.ID, r.Header.Get(HeaderID))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		got := decodeEvent(t, r.Body)
		assert.Equal(t, want.Type, got.Type)
		assert.Equal(t, "call-1", got.Call.CallID)
	}
	require.NoError(t, s.Close(context.Background()))
	rc.srv.Close()
}

func TestSenderRetriesThenSucceeds(t *testing.T) {
	rc := newReceiver(t, testSecret)
	rc.answer(func(n int, _ *http.Request) (int, http.Header) {
		if n < 2 {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	})
	s := newTestSender(t, SenderConfig{URL: rc.URL()})
	ev := callEvents("c")[3]
	require.NoError(t, s.Publish(context.Background(), ev))
	for range 3 {
		r := rc.next()
		require.NoError(t, r.Err, "every attempt is signed with its own timestamp")
		assert.Equal(t, ev.ID, r.Header.Get(HeaderID), "webhook-id is stable across retries")
	}
	require.NoError(t, s.Close(context.Background()))
	assert.Equal(t, 3, rc.count())
}

func TestSenderGivesUp(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   int
	}{
		{"410 disables at once", http.StatusGone, 1},
		{"500 until max attempts", http.StatusInternalServerError, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, testSecret)
			rc.answer(func(int, *http.Request) (int, http.Header) { return tt.status, nil })
			s := newTestSender(t, SenderConfig{URL: rc.URL(), MaxAttempts: 3})
			require.NoError(t, s.Publish(context.Background(), callEvents("c")[3]))
			require.NoError(t, s.Close(context.Background()))
			assert.Equal(t, tt.want, rc.count())
		})
	}
}

func TestSenderDoesNotFollowRedirects(t *testing.T) {
	target := newReceiver(t, testSecret)
	rc := newReceiver(t, testSecret)
	rc.answer(func(int, *http.Request) (int, http.Header) {
		return http.StatusTemporaryRedirect, http.Header{"Location": {target.URL()}}
	})
	s := newTestSender(t, SenderConfig{URL: rc.URL(), MaxAttempts: 2})
	require.NoError(t, s.Publish(context.Background(), callEvents("c")[3]))
	require.NoError(t, s.Close(context.Background()))
	assert.Equal(t, 2, rc.count(), "a 3xx is a failed attempt")
	assert.Equal(t, 0, target.count(), "the redirect target is never contacted")
}

func TestSenderRefusesPrivateTargets(t *testing.T) {
	rc := newReceiver(t, testSecret)
	s := NewSender(SenderConfig{URL: rc.URL(), Secret: testSecret, MaxAttempts: 1}, testLogger(t))
	require.NoError(t, s.Publish(context.Background(), callEvents("c")[3]))
	require.NoError(t, s.Close(context.Background()))
	assert.Equal(t, 0, rc.count(), "loopback receiver must not be contacted without AllowPrivate")

	res := post(context.Background(), newHTTPClient(time.Second, false),
		request{URL: rc.URL(), MsgID: "evt_1", Body: []byte("{}"), ContentType: "application/json", Secret: testSecret}, time.Now())
	require.ErrorIs(t, res.Err, ErrPrivateTarget)
}

func TestSenderFiltersAndRoutes(t *testing.T) {
	main := newReceiver(t, testSecret)
	seatRc := newReceiver(t, testSecret)
	s := newTestSender(t, SenderConfig{
		URL:      main.URL(),
		SeatURLs: map[string]string{"vip": seatRc.URL()},
		Events:   []string{record.TypeAnswered},
	})
	for _, ev := range callEvents("c1") {
		require.NoError(t, s.Publish(context.Background(), ev))
	}
	for _, ev := range callEvents("c2") {
		ev.Call.Seat = "vip"
		require.NoError(t, s.Publish(context.Background(), ev))
	}
	require.NoError(t, s.Close(context.Background()))
	var types []string
	for range 2 {
		types = append(types, decodeEvent(t, main.next().Body).Type)
	}
	assert.Equal(t, []string{record.TypeAnswered, record.TypeCompleted}, types, "answered as configured, completed always")
	assert.Equal(t, 2, seatRc.count(), "the seat's own URL gets its calls")
	assert.Equal(t, 2, main.count())
}

func TestSenderTemplateSignedOverSentBody(t *testing.T) {
	rc := newReceiver(t, testSecret)
	s := newTestSender(t, SenderConfig{
		URL:      rc.URL(),
		Template: `{"CallObject":{{json .Call.CallID}},"CallDurationInSeconds":{{.Call.DurationS}}}`,
		Headers:  map[string]string{"X-Api-Key": "k1"},
	})
	require.NoError(t, s.Publish(context.Background(), callEvents("c9")[3]))
	r := rc.next()
	require.NoError(t, r.Err)
	assert.JSONEq(t, `{"CallObject":"c9","CallDurationInSeconds":60}`, string(r.Body))
	assert.Equal(t, "k1", r.Header.Get("X-Api-Key"))
}

func TestSenderPublishErrors(t *testing.T) {
	s := NewSender(SenderConfig{URL: "http://127.0.0.1:1/x", Secret: testSecret, AllowPrivate: true}, testLogger(t))
	require.ErrorIs(t, s.Publish(context.Background(), record.Event{Type: record.TypeCompleted}), record.ErrBadEvent)
	require.NoError(t, s.Close(context.Background()))
	require.ErrorIs(t, s.Publish(context.Background(), callEvents("c")[3]), ErrClosed)

	bad := NewSender(SenderConfig{URL: "http://127.0.0.1:1/x", Secret: testSecret, Template: "{{.Nope"}, testLogger(t))
	require.ErrorIs(t, bad.Publish(context.Background(), callEvents("c")[3]), ErrTemplate)
	require.NoError(t, bad.Close(context.Background()))
}

func TestSenderCloseAbandonsHangingReceiver(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := NewSender(SenderConfig{URL: srv.URL, Secret: testSecret, AllowPrivate: true, Timeout: time.Minute}, testLogger(t))
	require.NoError(t, s.Publish(context.Background(), callEvents("c")[3]))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Close(ctx), context.DeadlineExceeded)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, 120*time.Second, parseRetryAfter("120", now))
	assert.Equal(t, 30*time.Second, parseRetryAfter(now.Add(30*time.Second).Format(http.TimeFormat), now))
	assert.Zero(t, parseRetryAfter("soon", now))
	assert.Zero(t, parseRetryAfter("-5", now))
	assert.Zero(t, parseRetryAfter("", now))
}
