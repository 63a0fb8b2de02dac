package diag_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/bridge/siptest"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/diag"
	"github.com/callbridge/callbridge/media"
)

// browserLeg is a browser leg without WebRTC that counts what the bridge
// sends it, as the signaling peer does.
type browserLeg struct {
	mu     sync.Mutex
	in     media.RTPHandler
	toB    uint64
	lastAt time.Time
}

func (l *browserLeg) WaitMedia(context.Context) error { return nil }
func (l *browserLeg) InCodec() media.Codec            { return media.CodecPCMU }
func (l *browserLeg) OutCodec() media.Codec           { return media.CodecPCMU }
func (l *browserLeg) Out() media.RTPHandler           { return l }
func (l *browserLeg) SetIn(h media.RTPHandler)        { l.mu.Lock(); l.in = h; l.mu.Unlock() }
func (l *browserLeg) String() string                  { return "browser" }
func (l *browserLeg) HandleRTP(*rtp.Header, []byte) error {
	l.mu.Lock()
	l.toB++
	l.lastAt = time.Now()
	l.mu.Unlock()
	return nil
}
func (l *browserLeg) Counters() bridge.LegCounters {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bridge.LegCounters{ToBrowser: l.toB, LastToBrowserAt: l.lastAt, ICEState: "connected"}
}

// speak sends a 20 ms PCMU frame of a tone into h.
func speak(h media.RTPHandler, seq uint16) {
	payload := tonePayload()
	_ = h.HandleRTP(&rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0x1234}, payload)
}

// carrier is a far end on loopback: it answers with sdp as its RTP
// address and sends its RTP (and RTCP) from src.
type carrier struct {
	sdp, src *net.UDPConn
	mu       sync.Mutex
	bridgeAt netip.AddrPort // where the bridge's RTP comes from
	ssrc     uint32         // the bridge's SSRC toward us
	seq      uint16         // the last sequence number seen at src
	atSDP    int            // packets that reached the SDP address
}

func udp(t *testing.T) *net.UDPConn {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (c *carrier) read(conn *net.UDPConn, atSDP bool) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 2 || buf[1] >= 192 && buf[1] <= 223 {
			continue // RTCP
		}
		if _, err := h.Unmarshal(buf[:n]); err != nil {
			continue
		}
		c.mu.Lock()
		c.bridgeAt, c.ssrc, c.seq = from, h.SSRC, h.SequenceNumber
		if atSDP {
			c.atSDP++
		}
		c.mu.Unlock()
	}
}

// report sends the carrier's RR to the bridge's RTCP port: with a block
// showing our stream received up to now, or none (it hears nothing).
func (c *carrier) report(t *testing.T, bridgeRTP netip.AddrPort, hears bool) {
	c.mu.Lock()
	rr := &rtcp.ReceiverReport{SSRC: 0xCA}
	if hears {
		rr.Reports = []rtcp.ReceptionReport{{SSRC: c.ssrc, LastSequenceNumber: uint32(c.seq)}}
	}
	c.mu.Unlock()
	b, err := rtcp.Marshal([]rtcp.Packet{rr})
	require.NoError(t, err)
	_, err = c.src.WriteToUDPAddrPort(b, netip.AddrPortFrom(bridgeRTP.Addr(), bridgeRTP.Port()+1))
	require.NoError(t, err)
}

func healthyBrowserNow() *diag.BrowserReport {
	b := &diag.BrowserReport{Received: time.Now()}
	b.Inbound.PacketsReceived, b.Inbound.AudioLevel, b.Outbound.PacketsSent = 100, 0.2, 100
	return b
}

// A carrier that sends RTP from another port than its SDP names and
// listens on the SDP one: the bridge latches to the source, the far end
// hears nothing. Without RTCP the page never calls bridge → trunk ok and
// flags the differing addresses; with the carrier's RTCP saying it hears
// nothing, the fault is critical with the fix; when the carrier's RTCP
// shows our stream arriving, it clears.
func TestAsymmetricCarrierIsNeverGreen(t *testing.T) {
	car := &carrier{sdp: udp(t), src: udp(t)}
	go car.read(car.sdp, true)
	go car.read(car.src, false)
	uas := siptest.Start(t, siptest.Script{RTPPort: car.sdp.LocalAddr().(*net.UDPAddr).Port})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := config.Default()
	cfg.Auth.TokenSecret = "0123456789abcdef0123456789abcdef-x"
	cfg.SIP.Listen = "udp:" + conn.LocalAddr().String()
	cfg.SIP.Trunk = "sip:" + uas.Addr
	cfg.SIP.RTPPorts = "23000-23999"
	cfg.SIP.OptionsInterval = 0
	cfg.Seats = []config.Seat{{ID: "s1", CallerIDs: []string{"+14155550100"}, Country: "US"}}
	cfg.Dialing.AllowedNumberTypes = []string{config.NumberTypeUnknown} // the fictional 555-01xx range
	cfg.SetDefaults()
	b, err := bridge.New(cfg, bridge.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), bridge.WithRTCPInterval(200*time.Millisecond))
	require.NoError(t, err)
	go func() { _ = b.ServeSIP(conn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
		_ = b.Close()
		_ = conn.Close()
	})
	seat, _ := b.Config().Seat("s1")
	leg := &browserLeg{}
	answered := make(chan struct{})
	var once sync.Once
	cc, err := b.Originate(context.Background(), bridge.CallRequest{
		Auth: &bridge.SeatAuth{Seat: seat, CallerIDs: seat.CallerIDs}, RequestID: "r", To: "+15550100001",
		Leg: leg, OnState: func(s bridge.CallState) {
			if s.State == bridge.StateAnswered {
				once.Do(func() { close(answered) })
			}
		},
	})
	require.NoError(t, err)
	call := cc.(*bridge.Call)
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
		t.Fatal("not answered")
	}
	bridgeRTP := netip.MustParseAddrPort(call.Info().Media.Local)

	// Both sides talk, 20 ms frames, until the test ends.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			leg.mu.Lock()
			in := leg.in
			leg.mu.Unlock()
			if in != nil {
				speak(in, seq)
			}
			pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xCA}, Payload: tonePayload()}).Marshal()
			_, _ = car.src.WriteToUDPAddrPort(pkt, bridgeRTP)
		}
	}()
	defer func() { close(stop); <-done }()

	diagnose := func() diag.Report {
		return diag.Diagnose(diag.Input{Now: time.Now(), Call: call.Info(), Browser: healthyBrowserNow()})
	}
	has := func(r diag.Report, id string) bool {
		for _, f := range r.Findings {
			if f.ID == id {
				return true
			}
		}
		return false
	}

	// No RTCP from the carrier: unverified, the addresses flagged.
	var r diag.Report
	require.Eventually(t, func() bool {
		r = diagnose()
		return len(r.Directions) == 4 && r.Directions[1].Status == "unverified" && has(r, "S11")
	}, 10*time.Second, 50*time.Millisecond, "last: %+v", r)
	assert.NotEqual(t, "Audio flows both ways.", r.Verdict)
	m := call.Info().Media
	assert.Equal(t, car.src.LocalAddr().String(), m.Remote, "the bridge sends where the RTP comes from")
	assert.Equal(t, car.sdp.LocalAddr().String(), m.SDPAddr)
	car.mu.Lock()
	atSDP := car.atSDP // at most the packets before the latch
	car.mu.Unlock()
	// The carrier's own RTCP port received the bridge's reports.
	assert.Positive(t, m.TrunkRTCP.ReportsSent)

	// The carrier's RTCP says it hears nothing: critical, with the fix.
	require.Eventually(t, func() bool {
		car.report(t, bridgeRTP, false)
		r = diagnose()
		return r.Directions[1].Status == "not received" && has(r, "S12")
	}, 5*time.Second, 100*time.Millisecond, "last: %+v", r)
	assert.Equal(t, "One-way audio: the agent hears the far end, the far end does not hear the agent.", r.Verdict)
	for _, f := range r.Findings {
		if f.ID == "S12" {
			assert.Contains(t, f.Message, car.sdp.LocalAddr().String())
			assert.Contains(t, f.Fix, "symmetric RTP")
		}
	}

	// The carrier fixed: its RTCP shows our stream arriving; ok within 5 s.
	require.Eventually(t, func() bool {
		car.report(t, bridgeRTP, true)
		r = diagnose()
		return r.Directions[1].Status == "ok" && !has(r, "S12")
	}, 5*time.Second, 100*time.Millisecond, "last: %+v", r)
	car.mu.Lock()
	assert.Equal(t, atSDP, car.atSDP, "nothing reached the address the carrier listens on since the latch")
	car.mu.Unlock()

	// The call's seconds are measured; its timeline tells the story.
	require.Eventually(t, func() bool { return len(call.Info().Intervals) >= 3 }, 10*time.Second, 50*time.Millisecond)
	info := call.Info()
	last := info.Intervals[len(info.Intervals)-1]
	assert.Positive(t, last.Down.Packets, "the carrier's packets are counted per second")
	assert.Positive(t, last.Down.MOS)
	kinds := map[string]bool{}
	for _, e := range info.Timeline {
		kinds[e.Kind] = true
	}
	for _, k := range []string{"state", "sdp", "media", "rtcp"} {
		assert.True(t, kinds[k], "timeline has %s: %+v", k, info.Timeline)
	}
}

func tonePayload() []byte {
	p := make([]byte, 160)
	for i := range p {
		p[i] = g711.EncodeUlawFrame(int16(8000 * ((i/10)%2*2 - 1))) // a 400 Hz square wave
	}
	return p
}
