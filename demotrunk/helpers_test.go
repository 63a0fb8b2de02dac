package demotrunk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("DEMOTRUNK_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
}

// startTrunk serves a trunk on a fresh 127.0.0.1 UDP socket; the trunk is
// closed at the end of the test.
func startTrunk(t *testing.T, opts Options) (*Trunk, netip.AddrPort) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	tr, err := New(opts)
	require.NoError(t, err)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- tr.Serve(context.Background(), conn) }()
	t.Cleanup(func() {
		require.NoError(t, tr.Close())
		select {
		case err := <-served:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return tr, conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// uac is a sipgo user agent playing the bridge's part in tests.
type uac struct {
	t       *testing.T
	addr    netip.AddrPort
	ua      *sipgo.UserAgent
	dialogs *sipgo.DialogClientCache
	byes    chan *sip.Request
}

func newUAC(t *testing.T) *uac {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	log := testLogger(t).With("side", "uac")
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("agent"), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	require.NoError(t, err)
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientConnectionAddr(addr.String()),
		sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(int(addr.Port())))
	require.NoError(t, err)
	u := &uac{
		t:    t,
		addr: addr,
		ua:   ua,
		dialogs: sipgo.NewDialogClientCache(client, sip.ContactHeader{
			Address: sip.Uri{Scheme: "sip", User: "agent", Host: "127.0.0.1", Port: int(addr.Port())},
		}),
		byes: make(chan *sip.Request, 4),
	}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := u.dialogs.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		u.byes <- req
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeUDP(conn)
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
		_ = ua.Close()
	})
	waitListening(t, ua, addr)
	return u
}

// waitListening waits until sipgo's ServeUDP registered the socket in its
// connection pool; a client bound to that address fails before then.
func waitListening(t *testing.T, ua *sipgo.UserAgent, addr netip.AddrPort) {
	t.Helper()
	require.Eventually(t, func() bool {
		c, err := ua.TransportLayer().GetConnection("udp", addr.String())
		return err == nil && c != nil
	}, 5*time.Second, time.Millisecond, "sipgo listener registered")
}

// invite sends an INVITE for number to the trunk with an SDP body.
func (u *uac) invite(ctx context.Context, trunk netip.AddrPort, number string, sdpBody []byte) (*sipgo.DialogClientSession, error) {
	u.t.Helper()
	uri := sip.Uri{Scheme: "sip", User: number, Host: trunk.Addr().String(), Port: int(trunk.Port())}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "+14155550100", Host: "127.0.0.1"}}
	from.Params.Add("tag", sip.GenerateTagN(16))
	hdrs := []sip.Header{from}
	if sdpBody != nil {
		hdrs = append(hdrs, sip.NewHeader("Content-Type", "application/sdp"))
	}
	return u.dialogs.Invite(ctx, uri, sdpBody, hdrs...)
}

// rtpPeer is the test's RTP endpoint: it sends a tone and keeps what arrives.
type rtpPeer struct {
	conn *net.UDPConn

	mu       sync.Mutex
	dst      netip.AddrPort // guarded by mu
	samples  []int16        // guarded by mu
	arrivals []time.Time    // guarded by mu; one per packet
	headers  []rtp.Header   // guarded by mu
	from     []netip.AddrPort
}

func newRTPPeer(t *testing.T) *rtpPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	p := &rtpPeer{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.receive()
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
	})
	return p
}

func (p *rtpPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

// offer is an SDP offer for this peer with the given "pt name/rate" formats.
func (p *rtpPeer) offer(formats ...string) []byte {
	m := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP", p.port())
	var attrs string
	for _, f := range formats {
		var pt int
		var name string
		_, _ = fmt.Sscanf(f, "%d %s", &pt, &name)
		m += fmt.Sprintf(" %d", pt)
		attrs += fmt.Sprintf("a=rtpmap:%d %s\r\n", pt, name)
	}
	return []byte(m + "\r\n" + attrs + "a=ptime:20\r\na=sendrecv\r\n")
}

func (p *rtpPeer) receive() {
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		p.mu.Lock()
		for _, b := range pkt.Payload {
			if pkt.PayloadType == ptPCMA {
				p.samples = append(p.samples, g711.DecodeAlawFrame(b))
			} else {
				p.samples = append(p.samples, g711.DecodeUlawFrame(b))
			}
		}
		p.arrivals = append(p.arrivals, time.Now())
		p.headers = append(p.headers, pkt.Header)
		p.from = append(p.from, from)
		p.mu.Unlock()
	}
}

// sendTone sends a hz tone as 20 ms packets of payload type pt to dst until ctx ends.
func (p *rtpPeer) sendTone(ctx context.Context, dst netip.AddrPort, pt uint8, hz float64) {
	go func() {
		hdr := rtp.Header{Version: 2, PayloadType: pt, SSRC: 0x1234, SequenceNumber: 100, Timestamp: 1000}
		tick := time.NewTicker(frameDuration)
		defer tick.Stop()
		var n int
		for {
			buf := make([]byte, 12+frameSamples)
			m, _ := hdr.MarshalTo(buf)
			for i := range frameSamples {
				s := int16(0.3 * math.MaxInt16 * math.Sin(2*math.Pi*hz*float64(n)/sampleRate))
				n++
				if pt == ptPCMA {
					buf[m+i] = g711.EncodeAlawFrame(s)
				} else {
					buf[m+i] = g711.EncodeUlawFrame(s)
				}
			}
			if _, err := p.conn.WriteToUDPAddrPort(buf, dst); err != nil {
				return
			}
			hdr.SequenceNumber++
			hdr.Timestamp += frameSamples
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// snapshot returns copies of what arrived so far.
func (p *rtpPeer) snapshot() ([]int16, []rtp.Header, []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.samples...), append([]rtp.Header(nil), p.headers...), append([]time.Time(nil), p.arrivals...)
}

// waitSamples waits until at least n samples arrived.
func (p *rtpPeer) waitSamples(t *testing.T, n int) []int16 {
	t.Helper()
	var s []int16
	require.Eventually(t, func() bool {
		s, _, _ = p.snapshot()
		return len(s) >= n
	}, 10*time.Second, 10*time.Millisecond, "RTP samples")
	return s
}

// toneAmplitude estimates the amplitude of hz in samples with the Goertzel
// algorithm: a full-scale sine of amplitude A gives about A.
func toneAmplitude(samples []int16, rate int, hz float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	w := 2 * math.Pi * hz / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range samples {
		s0 := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(samples))
}

// requireTone asserts hz is present (amplitude window) and other is absent,
// in the last second of samples (the first 200 ms skipped as warm-up).
func requireTone(t *testing.T, samples []int16, hz, other float64) {
	t.Helper()
	require.Greater(t, len(samples), 1600+800, "too little audio")
	win := samples[1600:]
	if len(win) > sampleRate {
		win = win[len(win)-sampleRate:]
	}
	amp := toneAmplitude(win, sampleRate, hz)
	require.InDelta(t, 0.3*math.MaxInt16, amp, 0.1*math.MaxInt16, "amplitude of %.0f Hz", hz)
	if other > 0 {
		require.Less(t, toneAmplitude(win, sampleRate, other), 0.02*math.MaxInt16, "%.0f Hz must be absent", other)
	}
}

func isDialogResponse(err error, code int) bool {
	var de *sipgo.ErrDialogResponse
	return errors.As(err, &de) && de.Res.StatusCode == code
}
