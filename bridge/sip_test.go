package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/bridge/siptest"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/clock"
	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

// fakeLeg is a browser leg without WebRTC: it sends G.711 and keeps what
// the bridge sends back.
type fakeLeg struct {
	mu     sync.Mutex
	uplink media.RTPHandler
	down   int
}

func (l *fakeLeg) WaitMedia(context.Context) error { return nil }
func (l *fakeLeg) InCodec() media.Codec            { return media.CodecPCMU }
func (l *fakeLeg) OutCodec() media.Codec           { return media.CodecPCMU }
func (l *fakeLeg) Out() media.RTPHandler           { return l }
func (l *fakeLeg) SetIn(h media.RTPHandler)        { l.mu.Lock(); l.uplink = h; l.mu.Unlock() }
func (l *fakeLeg) Counters() bridge.LegCounters    { return bridge.LegCounters{} }
func (l *fakeLeg) HandleRTP(*rtp.Header, []byte) error {
	l.mu.Lock()
	l.down++
	l.mu.Unlock()
	return nil
}
func (l *fakeLeg) String() string { return "fake" }

type states struct {
	mu  sync.Mutex
	all []bridge.CallState
	ch  chan bridge.CallState
}

func newStates() *states { return &states{ch: make(chan bridge.CallState, 16)} }

func (s *states) on(cs bridge.CallState) {
	s.mu.Lock()
	s.all = append(s.all, cs)
	s.mu.Unlock()
	s.ch <- cs
}

// last is the latest state seen.
func (s *states) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) == 0 {
		return ""
	}
	return s.all[len(s.all)-1].State
}

func (s *states) wait(t *testing.T, state string, d time.Duration) bridge.CallState {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case cs := <-s.ch:
			if cs.State == state || cs.State == bridge.StateEnded {
				return cs
			}
		case <-timeout:
			t.Fatalf("no %s within %s", state, d)
		}
	}
}

// newBridge starts a bridge whose trunk is the scripted UAS.
func newBridge(t *testing.T, uas *siptest.UAS, mutate func(*config.Config), opts ...bridge.Option) *bridge.Bridge {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := config.Default()
	cfg.Auth.TokenSecret = "0123456789abcdef0123456789abcdef-x"
	cfg.SIP.Listen = "udp:" + conn.LocalAddr().String()
	cfg.SIP.Trunk = "sip:" + uas.Addr
	cfg.SIP.RTPPorts = "22000-22999"
	cfg.SIP.OptionsInterval = 0
	cfg.Seats = []config.Seat{{ID: "s1", CallerIDs: []string{"+14155550100"}, Country: "US"}}
	cfg.Dialing.AllowedNumberTypes = []string{config.NumberTypeUnknown} // the fictional 555-01xx range
	if mutate != nil {
		mutate(cfg)
	}
	cfg.SetDefaults()
	b, err := bridge.New(cfg, append([]bridge.Option{bridge.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)...)
	require.NoError(t, err)
	go func() { _ = b.ServeSIP(conn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
		_ = b.Close()
		_ = conn.Close()
	})
	return b
}

func place(t *testing.T, b *bridge.Bridge, st *states, onDTMF func(string, rune)) *bridge.Call {
	t.Helper()
	seat, _ := b.Config().Seat("s1")
	c, err := b.Originate(context.Background(), bridge.CallRequest{
		Auth: &bridge.SeatAuth{Seat: seat, CallerIDs: seat.CallerIDs}, RequestID: "r", To: "+15550100001",
		Leg: &fakeLeg{}, OnState: st.on, OnDTMF: onDTMF,
	})
	require.NoError(t, err)
	return c.(*bridge.Call)
}

func TestSessionTimerBridgeRefreshes(t *testing.T) {
	for _, update := range []bool{true, false} {
		name := "re-INVITE"
		method := sip.INVITE
		if update {
			name, method = "UPDATE", sip.UPDATE
		}
		t.Run(name, func(t *testing.T) {
			uas := siptest.Start(t, siptest.Script{SessionExpires: 2, Refresher: "uac", AllowUpdate: update, RTPPort: 30000})
			b := newBridge(t, uas, nil)
			st := newStates()
			c := place(t, b, st, nil)
			st.wait(t, bridge.StateAnswered, 5*time.Second)
			// A 2 s interval refreshed every 1 s: the call outlives several intervals.
			n := 3
			if method == sip.INVITE {
				n = 4 // the initial INVITE counts
			}
			reqs := uas.WaitRequests(method, n, 6*time.Second)
			last := reqs[len(reqs)-1]
			assert.NotNil(t, last.GetHeader("Session-Expires"))
			assert.Equal(t, bridge.StateAnswered, c.State(), "the call outlived its session interval")
			c.Hangup()
			end := st.wait(t, bridge.StateEnded, 5*time.Second)
			assert.Equal(t, record.ByAgent, end.Cause.By)
		})
	}
}

func TestSessionTimerTrunkStopsRefreshing(t *testing.T) {
	// The trunk is the refresher with a 90 s interval but never refreshes:
	// the bridge ends the call after 90 - min(32, 90/3) = 60 s (RFC 4028 §10).
	clk := clock.NewFake(time.Now())
	uas := siptest.Start(t, siptest.Script{SessionExpires: 90, Refresher: "uas", RTPPort: 30000})
	b := newBridge(t, uas, func(c *config.Config) { c.SIP.MediaTimeout = 0 }, bridge.WithClock(clk))
	st := newStates()
	place(t, b, st, nil)
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	require.Eventually(t, func() bool { return clk.Timers() == 2 }, 5*time.Second, 5*time.Millisecond, "ticker and session timer")
	clk.Advance(59 * time.Second)
	assert.Equal(t, bridge.StateAnswered, st.last(), "not before 60 s")
	clk.Advance(time.Second)
	end := st.wait(t, bridge.StateEnded, 5*time.Second)
	require.Equal(t, bridge.StateEnded, end.State)
	assert.Equal(t, record.ByBridge, end.Cause.By)
	assert.Contains(t, end.Cause.Reason, "Session timer")
	uas.WaitRequests(sip.BYE, 1, 3*time.Second)
}

func TestSessionTimer422(t *testing.T) {
	uas := siptest.Start(t, siptest.Script{Reject422MinSE: 1900, RTPPort: 30000})
	b := newBridge(t, uas, nil)
	st := newStates()
	place(t, b, st, nil)
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	invites := uas.Requests(sip.INVITE)
	require.Len(t, invites, 2)
	assert.Equal(t, "1800", invites[0].GetHeader("Session-Expires").Value())
	assert.Equal(t, "1900", invites[1].GetHeader("Session-Expires").Value())
	assert.Equal(t, "1900", invites[1].GetHeader("Min-SE").Value())
	assert.Equal(t, invites[0].CallID().Value(), invites[1].CallID().Value(), "same call")
	assert.Greater(t, invites[1].CSeq().SeqNo, invites[0].CSeq().SeqNo)
}

func TestInDialogRequestsFromTrunk(t *testing.T) {
	uas := siptest.Start(t, siptest.Script{RTPPort: 30000})
	b := newBridge(t, uas, nil)
	st := newStates()
	digits := make(chan rune, 4)
	c := place(t, b, st, func(_ string, d rune) { digits <- d })
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	callID := c.Info().SIPCallID

	// Hold: a sendonly offer is answered recvonly (RFC 3264 §8.4).
	res, err := uas.Send(callID, sip.INVITE, "application/sdp", uas.HoldSDP("sendonly"))
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	assert.Contains(t, string(res.Body()), "a=recvonly")
	assert.Equal(t, "sendonly", c.Info().Media.Direction)
	// Unhold.
	res, err = uas.Send(callID, sip.INVITE, "application/sdp", uas.HoldSDP("sendrecv"))
	require.NoError(t, err)
	assert.Contains(t, string(res.Body()), "a=sendrecv")
	// UPDATE as a session refresh: echoed Session-Expires.
	res, err = uas.Send(callID, sip.UPDATE, "", nil, sip.NewHeader("Session-Expires", "120;refresher=uac"))
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "120;refresher=uac", res.GetHeader("Session-Expires").Value())
	// INFO with DTMF relay reaches the agent.
	res, err = uas.Send(callID, sip.INFO, "application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode)
	select {
	case d := <-digits:
		assert.Equal(t, '5', d)
	case <-time.After(2 * time.Second):
		t.Fatal("digit not delivered")
	}
	// INFO of an unknown type: 415.
	res, err = uas.Send(callID, sip.INFO, "application/x-nope", []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, 415, res.StatusCode)
	// OPTIONS in dialog.
	res, err = uas.Send(callID, sip.OPTIONS, "", nil)
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode)

	// BYE with a Reason header: the cause is the carrier's.
	require.NoError(t, uas.Bye(callID, `Q.850;cause=31;text="Normal, unspecified"`))
	end := st.wait(t, bridge.StateEnded, 5*time.Second)
	assert.Equal(t, record.ByRemote, end.Cause.By)
	assert.Equal(t, 31, end.Cause.Q850)
	assert.Equal(t, "Normal, unspecified", end.Cause.Reason)
}

func TestRecordRouteIsHonoured(t *testing.T) {
	uas := siptest.Start(t, siptest.Script{RTPPort: 30000, RecordRouteHops: 2})
	b := newBridge(t, uas, nil)
	st := newStates()
	c := place(t, b, st, nil)
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	c.Hangup()
	st.wait(t, bridge.StateEnded, 5*time.Second)
	// ACK and BYE carry the route set: the Record-Routes in reverse order
	// (RFC 3261 §12.1.2), so the hop nearest the bridge (2) comes first.
	for _, m := range []sip.RequestMethod{sip.ACK, sip.BYE} {
		reqs := uas.WaitRequests(m, 1, 3*time.Second)
		routes := reqs[0].GetHeaders("Route")
		require.Len(t, routes, 2, "%s routes", m)
		assert.Contains(t, routes[0].Value(), "hop=2", m)
		assert.Contains(t, routes[1].Value(), "hop=1", m)
	}
}

func TestFinalResponseCauses(t *testing.T) {
	cases := []struct {
		final  int
		reason string
		q850   int
		text   string
	}{
		{486, "", 17, "Scripted"},
		{404, "", 1, "Scripted"},
		{503, `Q.850;cause=34;text="No circuit/channel available"`, 34, "No circuit/channel available"},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.final), func(t *testing.T) {
			uas := siptest.Start(t, siptest.Script{Final: tc.final, Reason: tc.reason, RTPPort: 30000})
			b := newBridge(t, uas, nil)
			st := newStates()
			place(t, b, st, nil)
			end := st.wait(t, bridge.StateEnded, 5*time.Second)
			assert.Equal(t, tc.final, end.Cause.SIPCode)
			assert.Equal(t, tc.q850, end.Cause.Q850)
			assert.Equal(t, tc.text, end.Cause.Reason)
			assert.Equal(t, record.ByRemote, end.Cause.By)
		})
	}
}

// sip.invite_timeout gives up on a trunk that says nothing at all, at its
// time on the call's clock and not before.
func TestInviteTimeout(t *testing.T) {
	clk := clock.NewFake(time.Now())
	uas := siptest.Silent(t)
	b := newBridge(t, uas, func(c *config.Config) { c.SIP.InviteTimeout = 8 * time.Second }, bridge.WithClock(clk))
	st := newStates()
	place(t, b, st, nil)
	st.wait(t, bridge.StateDialing, 5*time.Second)
	require.Eventually(t, func() bool { return clk.Timers() == 2 }, 5*time.Second, 5*time.Millisecond, "ring and INVITE timers")
	clk.Advance(7 * time.Second)
	assert.Equal(t, bridge.StateDialing, st.last(), "not before 8 s")
	clk.Advance(time.Second)
	end := st.wait(t, bridge.StateEnded, 5*time.Second)
	assert.Equal(t, 408, end.Cause.SIPCode)
	assert.Equal(t, 102, end.Cause.Q850)
	assert.Equal(t, record.ByBridge, end.Cause.By)
}

// sip.ring_timeout cancels a call that rings unanswered: CANCEL upstream,
// no-answer to the agent.
func TestRingTimeout(t *testing.T) {
	clk := clock.NewFake(time.Now())
	uas := siptest.Start(t, siptest.Script{RingOnly: true, RTPPort: 30000})
	b := newBridge(t, uas, func(c *config.Config) { c.SIP.RingTimeout = 45 * time.Second }, bridge.WithClock(clk))
	st := newStates()
	c := place(t, b, st, nil)
	st.wait(t, bridge.StateRinging, 5*time.Second)
	require.Eventually(t, func() bool { return clk.Timers() >= 1 }, 5*time.Second, 5*time.Millisecond)
	clk.Advance(44 * time.Second)
	assert.Equal(t, bridge.StateRinging, st.last(), "not before 45 s")
	clk.Advance(time.Second)
	end := st.wait(t, bridge.StateEnded, 5*time.Second)
	assert.Equal(t, record.Q850NoAnswer, end.Cause.Q850)
	assert.Equal(t, record.ByBridge, end.Cause.By)
	uas.WaitRequests(sip.CANCEL, 1, 5*time.Second)
	<-c.Done()
	assert.Equal(t, record.StatusNoAnswer, c.Status())
}

func TestTrunkDownRefusesCallsFast(t *testing.T) {
	uas := siptest.Silent(t)
	b := newBridge(t, uas, func(c *config.Config) { c.SIP.OptionsInterval = 200 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.ProbeTrunk(ctx)
	require.Eventually(t, func() bool { s := b.Trunk(); return s.Probing && !s.Up && s.Failures >= 2 }, 10*time.Second, 50*time.Millisecond)
	seat, _ := b.Config().Seat("s1")
	_, err := b.Originate(context.Background(), bridge.CallRequest{Auth: &bridge.SeatAuth{Seat: seat, CallerIDs: seat.CallerIDs}, To: "+15550100001", Leg: &fakeLeg{}})
	require.ErrorIs(t, err, bridge.ErrTrunkUnavailable)
}

// An agent who hangs up before the trunk said anything is told at once,
// though the CANCEL itself must wait for a provisional response.
func TestHangupBeforeAnyResponse(t *testing.T) {
	uas := siptest.Silent(t)
	b := newBridge(t, uas, func(c *config.Config) { c.SIP.InviteTimeout = 30 * time.Second })
	st := newStates()
	c := place(t, b, st, nil)
	st.wait(t, bridge.StateDialing, 5*time.Second)
	c.Hangup()
	end := st.wait(t, bridge.StateEnded, time.Second)
	require.Equal(t, bridge.StateEnded, end.State)
	assert.Equal(t, record.ByAgent, end.Cause.By)
	assert.Equal(t, 487, end.Cause.SIPCode)
}

// sip.max_call_duration and sip.media_timeout end an answered call from
// the bridge's side with a BYE and their own cause, at their time on the
// call's clock and not before. The scripted trunk sends no RTP, so the
// media timeout fires by itself; the long one keeps it out of the
// max-duration case.
func TestBridgeTimersEndAnsweredCalls(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxDuration time.Duration
		media       time.Duration
		fires       time.Duration
		timers      int
		reason      string
		q850        int
	}{
		{"max call duration", 4 * time.Hour, 5 * time.Hour, 4 * time.Hour, 2, "Maximum call duration reached", 16},
		{"no RTP from the trunk", 0, 30 * time.Second, 31 * time.Second, 1, "No audio from the trunk", 102},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(time.Now())
			uas := siptest.Start(t, siptest.Script{RTPPort: 30000})
			b := newBridge(t, uas, func(c *config.Config) {
				c.SIP.MaxCallDuration = tc.maxDuration
				c.SIP.MediaTimeout = tc.media
				c.SIP.SessionExpires = 0
			}, bridge.WithClock(clk))
			st := newStates()
			place(t, b, st, nil)
			st.wait(t, bridge.StateAnswered, 5*time.Second)
			require.Eventually(t, func() bool { return clk.Timers() == tc.timers }, 5*time.Second, 5*time.Millisecond)
			// One tick at a time, so the call's loop sees every second.
			for elapsed := time.Duration(0); elapsed < tc.fires-time.Second; elapsed += time.Second {
				clk.Advance(time.Second)
				require.Equal(t, bridge.StateAnswered, st.last(), "ended early, at %s", elapsed+time.Second)
			}
			// A tick the loop has not taken yet swallows the next (as
			// time.Ticker does): keep the clock moving until it ends.
			require.Eventually(t, func() bool {
				clk.Advance(time.Second)
				return st.last() == bridge.StateEnded
			}, 5*time.Second, 10*time.Millisecond)
			end := st.wait(t, bridge.StateEnded, 5*time.Second)
			require.Equal(t, bridge.StateEnded, end.State)
			assert.Equal(t, record.ByBridge, end.Cause.By)
			assert.Equal(t, tc.reason, end.Cause.Reason)
			assert.Equal(t, tc.q850, end.Cause.Q850)
			uas.WaitRequests(sip.BYE, 1, 3*time.Second)
		})
	}
}

// Info is read by the stats page and the admin API while calls start and
// end: every field a call fills in after it became visible must be read
// under its owner's lock (run with -race).
func TestInfoWhileCallsStartAndEnd(t *testing.T) {
	uas := siptest.Start(t, siptest.Script{RTPPort: 30000})
	b := newBridge(t, uas, func(c *config.Config) { c.Seats[0].MaxCalls = 8 })
	stop := make(chan struct{})
	var polls atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, c := range b.Calls() {
				info := c.Info()
				_ = info.Quality()
				assert.NotEmpty(t, info.SIPCallID, "the SIP Call-ID is known as soon as the call is")
			}
			_ = b.Recent()
			polls.Add(1)
		}
	})
	for range 6 {
		st := newStates()
		c := place(t, b, st, nil)
		st.wait(t, bridge.StateAnswered, 5*time.Second)
		c.Hangup()
		st.wait(t, bridge.StateEnded, 5*time.Second)
		<-c.Done()
	}
	close(stop)
	wg.Wait()
	assert.Greater(t, polls.Load(), int64(6))
	assert.Len(t, b.Recent(), 6)
}
