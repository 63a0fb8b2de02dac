package demotrunk

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// sipgo's transaction timers and connection pool outlive a test by design.
		goleak.IgnoreTopFunction("time.Sleep"),
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*ServerTx).ackSendAsync"),
		// A client connection sipgo opens to answer a request from an
		// unbound address may close a moment after its user agent.
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"),
	)
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// answerAddr is where the trunk's SDP (183 or 200) wants RTP.
func answerAddr(t *testing.T, body []byte) (netip.AddrPort, offer) {
	t.Helper()
	o, err := parseOffer(body)
	require.NoError(t, err, "trunk SDP: %s", body)
	return o.addr, o
}

// dial places a call, collects provisional status codes and waits for the answer.
func dial(t *testing.T, u *uac, trunk netip.AddrPort, number string, body []byte, opts sipgo.AnswerOptions) (*sipgo.DialogClientSession, []*sip.Response, error) {
	t.Helper()
	ctx := ctxTimeout(t, 10*time.Second)
	sess, err := u.invite(ctx, trunk, number, body)
	require.NoError(t, err)
	var seen []*sip.Response
	opts.OnResponse = func(res *sip.Response) error {
		seen = append(seen, res)
		return nil
	}
	err = sess.WaitAnswer(ctx, opts)
	return sess, seen, err
}

func codes(rs []*sip.Response) []int {
	out := make([]int, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.StatusCode)
	}
	return out
}

func TestEchoNumber(t *testing.T) {
	tr, addr := startTrunk(t, Options{RingFor: 300 * time.Millisecond})
	u, peer := newUAC(t), newRTPPeer(t)

	sess, seen, err := dial(t, u, addr, NumberEcho, peer.offer("0 PCMU/8000", "8 PCMA/8000", "101 telephone-event/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int{100, 180, 200}, codes(seen))
	require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))

	rtpAddr, ans := answerAddr(t, sess.InviteResponse.Body())
	assert.Equal(t, CodecPCMU, ans.codec, "first offered codec wins")
	assert.Equal(t, 101, ans.eventPT, "telephone-event answered")
	assert.Contains(t, string(sess.InviteResponse.Body()), "a=rtpmap:101 telephone-event/8000")

	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	peer.sendTone(sendCtx, rtpAddr, ptPCMU, 1000)

	got := peer.waitSamples(t, 2*sampleRate)
	requireTone(t, got, 1000, DefaultToneHz)

	// RTP the trunk sends: PCMU, dense sequence numbers, timestamps 160
	// samples apart; after a scheduling stall the timestamp may jump by whole
	// frames, following the wall clock (RFC 3550 §5.1).
	_, hdrs, _ := peer.snapshot()
	exact := 0
	for i := 1; i < len(hdrs); i++ {
		require.Equal(t, uint8(ptPCMU), hdrs[i].PayloadType)
		require.Equal(t, hdrs[i-1].SequenceNumber+1, hdrs[i].SequenceNumber, "packet %d", i)
		step := hdrs[i].Timestamp - hdrs[i-1].Timestamp
		require.True(t, step >= frameSamples && step%frameSamples == 0, "packet %d: timestamp step %d", i, step)
		if step == frameSamples {
			exact++
		}
		require.Equal(t, hdrs[0].SSRC, hdrs[i].SSRC)
	}
	assert.Greater(t, exact, (len(hdrs)-1)*9/10, "timestamps mostly 160 apart")
	assert.True(t, hdrs[0].Marker, "marker on the first packet")

	// The trunk heard the tone too.
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return len(r.Received) >= 2*sampleRate })
	require.NoError(t, err)
	requireTone(t, rec.Received, 1000, DefaultToneHz)

	require.NoError(t, sess.Bye(ctxTimeout(t, 2*time.Second)))
	rec, err = tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return r.Ended })
	require.NoError(t, err)
	assert.Equal(t, ByeCaller, rec.ByeFrom)
	assert.Equal(t, CodecPCMU, rec.Codec)
	assert.Equal(t, []int{100, 180, 200}, rec.Responses)
	assert.Equal(t, "+14155550100", rec.FromUser)
	assert.Equal(t, NumberEcho, rec.ToUser)
	assert.True(t, strings.HasPrefix(rec.RequestURI, "sip:"+NumberEcho+"@127.0.0.1:"), rec.RequestURI)
	assert.Empty(t, rec.AuthUser)
	require.Len(t, rec.Invites, 1)
	assert.Equal(t, sess.InviteRequest.CallID().Value(), rec.CallID)
}

func TestToneNumber(t *testing.T) {
	tr, addr := startTrunk(t, Options{ToneHz: 1000})
	u, peer := newUAC(t), newRTPPeer(t)

	sess, seen, err := dial(t, u, addr, NumberTone, peer.offer("8 PCMA/8000", "0 PCMU/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int{100, 180, 200}, codes(seen))
	require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))
	rtpAddr, ans := answerAddr(t, sess.InviteResponse.Body())
	assert.Equal(t, CodecPCMA, ans.codec, "first offered codec wins")
	assert.Equal(t, -1, ans.eventPT, "no telephone-event when not offered")

	// The trunk sends to the SDP address before any RTP arrives from us.
	got := peer.waitSamples(t, 2*sampleRate)
	requireTone(t, got, 1000, 440)

	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	peer.sendTone(sendCtx, rtpAddr, ptPCMA, 440)
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return len(r.Received) >= 2*sampleRate })
	require.NoError(t, err)
	requireTone(t, rec.Received, 440, 1000)
	assert.Equal(t, CodecPCMA, rec.Codec)

	require.NoError(t, sess.Bye(ctxTimeout(t, 2*time.Second)))
	rec, err = tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return r.Ended })
	require.NoError(t, err)
	assert.Equal(t, ByeCaller, rec.ByeFrom)
}

func TestBusyNumber(t *testing.T) {
	tr, addr := startTrunk(t, Options{})
	u, peer := newUAC(t), newRTPPeer(t)
	_, seen, err := dial(t, u, addr, NumberBusy, peer.offer("0 PCMU/8000"), sipgo.AnswerOptions{})
	require.True(t, isDialogResponse(err, 486), "got %v", err)
	assert.Equal(t, []int{100, 180, 486}, codes(seen))
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return r.Ended })
	require.NoError(t, err)
	assert.Equal(t, []int{100, 180, 486}, rec.Responses)
	assert.Empty(t, rec.ByeFrom)
}

func TestNoAnswerNumberCancel(t *testing.T) {
	tr, addr := startTrunk(t, Options{})
	u, peer := newUAC(t), newRTPPeer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sess, err := u.invite(ctx, addr, NumberNoAnswer, peer.offer("0 PCMU/8000"))
	require.NoError(t, err)
	ringing := make(chan struct{})
	answered := make(chan error, 1)
	go func() {
		answered <- sess.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 180 {
				close(ringing)
			}
			return nil
		}})
	}()
	select {
	case <-ringing:
	case <-time.After(5 * time.Second):
		t.Fatal("no 180")
	}
	// Still ringing a while later: nothing final was sent.
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, []int{100, 180}, tr.Calls()[0].Responses)

	cancel() // sipgo sends CANCEL
	<-answered
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return r.Ended })
	require.NoError(t, err)
	assert.Equal(t, ByeCancel, rec.ByeFrom)
	assert.Equal(t, []int{100, 180, 487}, rec.Responses)
}

func TestEarlyMediaNumber(t *testing.T) {
	tr, addr := startTrunk(t, Options{EarlyMediaFor: 800 * time.Millisecond})
	u, peer := newUAC(t), newRTPPeer(t)
	sess, seen, err := dial(t, u, addr, NumberEarlyMedia, peer.offer("0 PCMU/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	answeredAt := time.Now()
	require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))
	require.Equal(t, []int{100, 183, 200}, codes(seen))
	assert.Equal(t, "application/sdp", seen[1].ContentType().Value())
	assert.Equal(t, string(seen[1].Body()), string(seen[2].Body()), "200 repeats the 183's SDP")

	// Early media before the 200: the ringback-like tone.
	samples, _, arrivals := peer.snapshot()
	var early []int16
	for i, at := range arrivals {
		if at.Before(answeredAt) && (i+1)*frameSamples <= len(samples) {
			early = append(early, samples[i*frameSamples:(i+1)*frameSamples]...)
		}
	}
	require.GreaterOrEqual(t, len(early), sampleRate/2, "early media before 200")
	amp := toneAmplitude(early[frameSamples:], sampleRate, DefaultEarlyToneHz)
	assert.InDelta(t, 0.3*32767, amp, 0.1*32767, "early tone amplitude")

	// After answer: echo.
	rtpAddr, _ := answerAddr(t, seen[2].Body())
	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	peer.sendTone(sendCtx, rtpAddr, ptPCMU, 1000)
	require.Eventually(t, func() bool {
		s, _, _ := peer.snapshot()
		if len(s) < len(samples)+sampleRate {
			return false
		}
		win := s[len(s)-sampleRate/2:]
		return toneAmplitude(win, sampleRate, 1000) > 0.2*32767 && toneAmplitude(win, sampleRate, DefaultEarlyToneHz) < 0.02*32767
	}, 10*time.Second, 50*time.Millisecond, "echo after answer")

	require.NoError(t, sess.Bye(ctxTimeout(t, 2*time.Second)))
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return r.Ended })
	require.NoError(t, err)
	assert.Equal(t, []int{100, 183, 200}, rec.Responses)
}

func TestEarlyMediaCancel(t *testing.T) {
	tr, addr := startTrunk(t, Options{EarlyMediaFor: time.Minute})
	u, peer := newUAC(t), newRTPPeer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sess, err := u.invite(ctx, addr, NumberEarlyMedia, peer.offer("0 PCMU/8000"))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- sess.WaitAnswer(ctx, sipgo.AnswerOptions{}) }()
	peer.waitSamples(t, sampleRate/2)
	cancel()
	<-done
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return r.Ended })
	require.NoError(t, err)
	assert.Equal(t, ByeCancel, rec.ByeFrom)
	assert.Equal(t, []int{100, 183, 487}, rec.Responses)
}

func TestRemoteHangupNumber(t *testing.T) {
	tr, addr := startTrunk(t, Options{HangupAfter: 700 * time.Millisecond})
	u, peer := newUAC(t), newRTPPeer(t)
	sess, seen, err := dial(t, u, addr, NumberRemoteHangup, peer.offer("0 PCMU/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int{100, 180, 200}, codes(seen))
	require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))

	select {
	case bye := <-u.byes:
		assert.Equal(t, sess.InviteRequest.CallID().Value(), bye.CallID().Value())
		assert.Equal(t, "agent", bye.Recipient.User, "BYE goes to the caller's Contact")
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE from the trunk")
	}
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return r.Ended })
	require.NoError(t, err)
	assert.Equal(t, ByeRemote, rec.ByeFrom)
	got, _, _ := peer.snapshot()
	require.Greater(t, len(got), sampleRate/4)
	assert.InDelta(t, 0.3*32767, toneAmplitude(got[frameSamples:], sampleRate, DefaultToneHz), 0.1*32767)
}

func TestUnknownNumber(t *testing.T) {
	tr, addr := startTrunk(t, Options{})
	u, peer := newUAC(t), newRTPPeer(t)
	_, _, err := dial(t, u, addr, "+15550109999", peer.offer("0 PCMU/8000"), sipgo.AnswerOptions{})
	require.True(t, isDialogResponse(err, 404), "got %v", err)
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return r.Ended })
	require.NoError(t, err)
	assert.Equal(t, []int{100, 404}, rec.Responses)
}

func TestDigestChallenge(t *testing.T) {
	tests := []struct {
		name     string
		password string
		wantCode int // 0 = answered
		wantResp []int
	}{
		{name: "right password", password: "s3cret", wantResp: []int{100, 407, 100, 180, 200}},
		{name: "wrong password", password: "guess", wantCode: 403, wantResp: []int{100, 407, 100, 403}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, addr := startTrunk(t, Options{Username: "agent7", Password: "s3cret", Realm: "demo.test", ToneHz: 1000})
			u, peer := newUAC(t), newRTPPeer(t)
			sess, seen, err := dial(t, u, addr, NumberTone, peer.offer("0 PCMU/8000"),
				sipgo.AnswerOptions{Username: "agent7", Password: tt.password})

			// The challenge: 407 with digest MD5, qop=auth (RFC 3261 §22.3).
			require.GreaterOrEqual(t, len(seen), 2)
			chalRes := seen[1]
			require.Equal(t, 407, chalRes.StatusCode)
			h := chalRes.GetHeader("Proxy-Authenticate")
			require.NotNil(t, h)
			chal, perr := digest.ParseChallenge(h.Value())
			require.NoError(t, perr)
			assert.Equal(t, "demo.test", chal.Realm)
			assert.Equal(t, "MD5", chal.Algorithm)
			assert.True(t, chal.SupportsQOP("auth"))

			if tt.wantCode != 0 {
				require.True(t, isDialogResponse(err, tt.wantCode), "got %v", err)
			} else {
				require.NoError(t, err)
				require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))
				defer func() { _ = sess.Bye(ctxTimeout(t, 2*time.Second)) }()
			}
			rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool {
				return len(r.Responses) == len(tt.wantResp)
			})
			require.NoError(t, err)
			assert.Equal(t, tt.wantResp, rec.Responses)
			require.Len(t, rec.Invites, 2, "the unauthenticated INVITE and the retry")
			assert.Nil(t, rec.Invites[0].GetHeader("Proxy-Authorization"))
			assert.NotNil(t, rec.Invites[1].GetHeader("Proxy-Authorization"))
			if tt.wantCode == 0 {
				assert.Equal(t, "agent7", rec.AuthUser)
			} else {
				assert.Empty(t, rec.AuthUser)
			}
		})
	}
}
