package demotrunk

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reinvite sends an in-dialog INVITE with body and ACKs its 2xx (RFC 3261 §14.1).
func reinvite(t *testing.T, sess *sipgo.DialogClientSession, body []byte) *sip.Response {
	t.Helper()
	ctx := ctxTimeout(t, 5*time.Second)
	req := sip.NewRequest(sip.INVITE, sess.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := sess.Do(ctx, req)
	require.NoError(t, err)
	ack := sip.NewRequest(sip.ACK, sess.InviteResponse.Contact().Address)
	require.NoError(t, sess.WriteRequest(ack))
	return res
}

func packetsSince(p *rtpPeer, since time.Time) int {
	_, _, arrivals := p.snapshot()
	n := 0
	for _, at := range arrivals {
		if at.After(since) {
			n++
		}
	}
	return n
}

func TestReInviteHoldUnhold(t *testing.T) {
	_, addr := startTrunk(t, Options{})
	u, peer := newUAC(t), newRTPPeer(t)
	sess, _, err := dial(t, u, addr, NumberTone, peer.offer("0 PCMU/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))
	defer func() { _ = sess.Bye(ctxTimeout(t, 2*time.Second)) }()
	peer.waitSamples(t, sampleRate/2)
	first := string(sess.InviteResponse.Body())

	// Hold: sendonly offer gets a recvonly answer with a new o= version and no more RTP (RFC 3264 §8.4).
	hold := strings.Replace(string(peer.offer("0 PCMU/8000")), "a=sendrecv", "a=sendonly", 1)
	res := reinvite(t, sess, []byte(hold))
	require.Equal(t, 200, res.StatusCode)
	held, err := parseOffer(res.Body())
	require.NoError(t, err)
	assert.Equal(t, "recvonly", held.direction)
	assert.NotEqual(t, first, string(res.Body()))
	time.Sleep(100 * time.Millisecond) // packets already in flight
	mark := time.Now()
	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, packetsSince(peer, mark), "RTP while on hold")

	// Unhold: media flows again.
	res = reinvite(t, sess, peer.offer("0 PCMU/8000"))
	require.Equal(t, 200, res.StatusCode)
	back, err := parseOffer(res.Body())
	require.NoError(t, err)
	assert.Equal(t, "sendrecv", back.direction)
	mark = time.Now()
	require.Eventually(t, func() bool { return packetsSince(peer, mark) >= 10 }, 5*time.Second, 20*time.Millisecond)

	// A codec change inside the dialog is refused.
	req := sip.NewRequest(sip.INVITE, sess.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(peer.offer("8 PCMA/8000"))
	res, err = sess.Do(ctxTimeout(t, 5*time.Second), req)
	require.NoError(t, err)
	assert.Equal(t, 488, res.StatusCode)
}

func TestUpdateAndInfoInDialog(t *testing.T) {
	_, addr := startTrunk(t, Options{})
	u, peer := newUAC(t), newRTPPeer(t)
	sess, _, err := dial(t, u, addr, NumberTone, peer.offer("0 PCMU/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))
	defer func() { _ = sess.Bye(ctxTimeout(t, 2*time.Second)) }()
	for _, m := range []sip.RequestMethod{sip.INFO, sip.UPDATE} {
		res, err := sess.Do(ctxTimeout(t, 5*time.Second), sip.NewRequest(m, sess.InviteResponse.Contact().Address))
		require.NoError(t, err)
		assert.Equal(t, 200, res.StatusCode, m.String())
	}
}

func TestDTMFRecorded(t *testing.T) {
	tr, addr := startTrunk(t, Options{})
	u, peer := newUAC(t), newRTPPeer(t)
	sess, _, err := dial(t, u, addr, NumberEcho, peer.offer("0 PCMU/8000", "101 telephone-event/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))
	defer func() { _ = sess.Bye(ctxTimeout(t, 2*time.Second)) }()
	rtpAddr, _ := answerAddr(t, sess.InviteResponse.Body())

	// RFC 4733 §2.5: a few packets per event, the end packet three times.
	seq := uint16(1)
	for i, ev := range []byte{1, 11, 5} {
		ts := uint32(8000 * (i + 1))
		for n := range 5 {
			end := n >= 2
			payload := []byte{ev, 10, 0, byte(160 * (n + 1))}
			if end {
				payload[1] |= 0x80
			}
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 7, Marker: n == 0}, Payload: payload}
			seq++
			b, err := pkt.Marshal()
			require.NoError(t, err)
			_, err = peer.conn.WriteToUDPAddrPort(b, rtpAddr)
			require.NoError(t, err)
		}
	}
	rec, err := tr.WaitCall(ctxTimeout(t, 5*time.Second), func(r CallRecord) bool { return len(r.Digits) >= 3 })
	require.NoError(t, err)
	assert.Equal(t, "1#5", rec.Digits)
}

func TestSymmetricRTPLatch(t *testing.T) {
	_, addr := startTrunk(t, Options{ToneHz: 1000})
	u, peer, other := newUAC(t), newRTPPeer(t), newRTPPeer(t)
	// The offer names peer's port, but RTP comes from other's: the trunk must
	// answer to where it comes from (RFC 4961).
	sess, _, err := dial(t, u, addr, NumberTone, peer.offer("0 PCMU/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	require.NoError(t, sess.Ack(ctxTimeout(t, time.Second)))
	defer func() { _ = sess.Bye(ctxTimeout(t, 2*time.Second)) }()
	rtpAddr, _ := answerAddr(t, sess.InviteResponse.Body())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	other.sendTone(ctx, rtpAddr, ptPCMU, 440)
	got := other.waitSamples(t, sampleRate)
	requireToneIn(t, got[len(got)-sampleRate/2:], 1000)

	// And from then on the SDP address gets nothing.
	time.Sleep(100 * time.Millisecond)
	mark := time.Now()
	time.Sleep(200 * time.Millisecond)
	assert.Zero(t, packetsSince(peer, mark))
}

func requireToneIn(t *testing.T, s []int16, hz float64) {
	t.Helper()
	assert.InDelta(t, 0.3*32767, toneAmplitude(s, sampleRate, hz), 0.1*32767, "%.0f Hz", hz)
}

func TestCloseEndsCalls(t *testing.T) {
	tr, addr := startTrunk(t, Options{})
	u := newUAC(t)
	peerA, peerB := newRTPPeer(t), newRTPPeer(t)

	answered, _, err := dial(t, u, addr, NumberTone, peerA.offer("0 PCMU/8000"), sipgo.AnswerOptions{})
	require.NoError(t, err)
	require.NoError(t, answered.Ack(ctxTimeout(t, time.Second)))

	ctx := ctxTimeout(t, 10*time.Second)
	ringing, err := u.invite(ctx, addr, NumberNoAnswer, peerB.offer("0 PCMU/8000"))
	require.NoError(t, err)
	ringErr := make(chan error, 1)
	go func() { ringErr <- ringing.WaitAnswer(ctx, sipgo.AnswerOptions{}) }()
	_, err = tr.WaitCall(ctx, func(r CallRecord) bool { return r.ToUser == NumberNoAnswer && r.Has(180) })
	require.NoError(t, err)

	require.NoError(t, tr.Close())

	select {
	case bye := <-u.byes:
		assert.Equal(t, answered.InviteRequest.CallID().Value(), bye.CallID().Value())
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE for the answered call")
	}
	require.True(t, isDialogResponse(<-ringErr, 480), "ringing call gets 480")
	for _, c := range tr.Calls() {
		assert.True(t, c.Ended, c.ToUser)
	}
	_, err = tr.WaitCall(ctxTimeout(t, time.Second), func(r CallRecord) bool { return r.ToUser == NumberTone && r.ByeFrom == ByeRemote })
	require.NoError(t, err)
}
