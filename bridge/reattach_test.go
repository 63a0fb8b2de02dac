package bridge_test

import (
	"net"
	"sync"
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
	"github.com/callbridge/callbridge/media/mediatest"
)

// opusLeg is a browser leg that sends Opus, as browsers do.
type opusLeg struct {
	fakeLeg
	pt uint8
}

func (l *opusLeg) InCodec() media.Codec {
	return media.Codec{Name: "opus", ClockRate: 48000, PayloadType: l.pt}
}
func (l *opusLeg) Out() media.RTPHandler { return l }

func (l *opusLeg) in() media.RTPHandler {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.uplink
}

// send hands the leg's uplink Opus packets as a browser's stream would
// arrive: its own SSRC, sequence numbers and 48 kHz timestamps.
func (l *opusLeg) send(t *testing.T, packets [][]byte, ssrc uint32, seq uint16, ts uint32) {
	t.Helper()
	h := l.in()
	require.NotNil(t, h, "the leg is attached")
	for i, p := range packets {
		hdr := rtp.Header{Version: 2, PayloadType: l.pt, SSRC: ssrc, SequenceNumber: seq + uint16(i), Timestamp: ts + uint32(i)*960}
		require.NoError(t, h.HandleRTP(&hdr, p))
	}
}

// trunkRTP is the far end's RTP socket: it keeps every packet the bridge
// sends toward the trunk.
type trunkRTP struct {
	conn net.PacketConn
	ch   chan rtp.Packet
	wg   sync.WaitGroup
}

func listenTrunkRTP(t *testing.T) *trunkRTP {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &trunkRTP{conn: conn, ch: make(chan rtp.Packet, 1024)}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(append([]byte(nil), buf[:n]...)) == nil {
				r.ch <- p
			}
		}
	}()
	t.Cleanup(func() { _ = conn.Close(); r.wg.Wait() })
	return r
}

func (r *trunkRTP) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *trunkRTP) next(t *testing.T) rtp.Packet {
	t.Helper()
	select {
	case p := <-r.ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no RTP at the trunk")
		return rtp.Packet{}
	}
}

// TestBrowserLegSwap: a page reloads mid-call. The browser leg detaches,
// the far end hears comfort noise every 20 ms, a new browser leg attaches,
// and the stream toward the trunk is one stream throughout: same SSRC,
// consecutive sequence numbers, timestamps 160 apart; the SIP dialog is
// untouched (no re-INVITE, no BYE).
func TestBrowserLegSwap(t *testing.T) {
	trunk := listenTrunkRTP(t)
	clk := clock.NewFake(time.Now())
	uas := siptest.Start(t, siptest.Script{RTPPort: trunk.port()})
	b := newBridge(t, uas, func(c *config.Config) { c.SIP.MediaTimeout = 0 }, bridge.WithClock(clk))
	st := newStates()
	seat, _ := b.Config().Seat("s1")
	first := &opusLeg{pt: 111}
	cc, err := b.Originate(t.Context(), bridge.CallRequest{
		Auth: &bridge.SeatAuth{Seat: seat, CallerIDs: seat.CallerIDs}, RequestID: "r", To: "+15550100001",
		Leg: first, OnState: st.on,
	})
	require.NoError(t, err)
	call := cc.(*bridge.Call)
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	require.Eventually(t, func() bool { return first.in() != nil }, 5*time.Second, 5*time.Millisecond)

	tone := mediatest.OpusPackets(t, "tone1k_silknb.opus")[:25]
	var got []rtp.Packet
	first.send(t, tone, 0x1111, 100, 5000)
	for range tone {
		got = append(got, trunk.next(t))
	}

	// The page goes away: nothing from the old leg reaches the trunk, and
	// comfort noise does, one frame per 20 ms of the call's clock.
	call.DetachBrowser("page reloaded")
	assert.Nil(t, first.in(), "the old leg is detached")
	require.Eventually(t, func() bool { return clk.Timers() == 2 }, 5*time.Second, time.Millisecond, "the comfort noise ticker")
	const noiseFrames = 10
	var noise []int16
	for range noiseFrames {
		clk.Advance(bridge.ComfortNoiseFrame)
		p := trunk.next(t)
		got = append(got, p)
		noise = mediatest.DecodeG711(noise, media.CodecPCMU, p.Payload)
	}
	assert.Greater(t, mediatest.RMS(noise), 0.0, "comfort noise, not digital silence")
	assert.Less(t, mediatest.DBFS(mediatest.RMS(noise)/32768), -60.0, "comfort noise is quiet")

	// A new page, a new peer connection with its own SSRC, sequence
	// numbers, timestamps and Opus payload type.
	second := &opusLeg{pt: 109}
	require.NoError(t, call.AttachBrowser(second, nil, nil))
	require.Eventually(t, func() bool { return clk.Timers() == 1 }, 5*time.Second, time.Millisecond, "the comfort noise stopped")
	second.send(t, tone, 0x2222, 60000, 1<<31)
	var after []int16
	for i := range tone {
		p := trunk.next(t)
		if i == 0 {
			assert.True(t, p.Marker, "the new page's audio starts a talkspurt")
		}
		got = append(got, p)
		after = mediatest.DecodeG711(after, media.CodecPCMU, p.Payload)
	}
	assert.Greater(t, mediatest.ToneAmplitude(after[len(after)/2:], 8000, 1000), 0.1, "the new page's tone reaches the trunk")

	for i := 1; i < len(got); i++ {
		assert.Equal(t, got[0].SSRC, got[i].SSRC, "packet %d: one SSRC toward the trunk", i)
		assert.Equal(t, got[i-1].SequenceNumber+1, got[i].SequenceNumber, "packet %d: consecutive sequence numbers", i)
		assert.Equal(t, got[i-1].Timestamp+160, got[i].Timestamp, "packet %d: timestamps 20 ms apart", i)
	}

	info := call.Info()
	require.Len(t, info.Reattaches, 1)
	assert.Equal(t, "page reloaded", info.Reattaches[0].Reason)
	assert.Equal(t, int64(noiseFrames*20), info.Reattaches[0].GapMS)
	assert.Equal(t, bridge.StateAnswered, call.State())
	assert.Len(t, uas.Requests(sip.INVITE), 1, "no re-INVITE toward the trunk")
	assert.Empty(t, uas.Requests(sip.BYE))

	call.Hangup()
	st.wait(t, bridge.StateEnded, 5*time.Second)
	<-call.Done()
}

// TestDetachedCallEndsCleanly: a call whose page never came back ends
// with the comfort noise stopped and nothing left running.
func TestDetachedCallEndsCleanly(t *testing.T) {
	trunk := listenTrunkRTP(t)
	uas := siptest.Start(t, siptest.Script{RTPPort: trunk.port()})
	b := newBridge(t, uas, nil)
	st := newStates()
	seat, _ := b.Config().Seat("s1")
	leg := &opusLeg{pt: 111}
	cc, err := b.Originate(t.Context(), bridge.CallRequest{
		Auth: &bridge.SeatAuth{Seat: seat, CallerIDs: seat.CallerIDs}, RequestID: "r", To: "+15550100001",
		Leg: leg, OnState: st.on,
	})
	require.NoError(t, err)
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	cc.DetachBrowser("page closed")
	trunk.next(t) // comfort noise flows on the real clock
	cc.Abandon()
	end := st.wait(t, bridge.StateEnded, 5*time.Second)
	require.NotNil(t, end.Cause)
	assert.Equal(t, "Browser page gone: not back within the grace period", end.Cause.Reason)
	uas.WaitRequests(sip.BYE, 1, 3*time.Second)
	<-cc.Done()
	assert.Error(t, cc.AttachBrowser(leg, nil, nil), "an ended call takes no browser leg")
}
