package siptest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

// Caller is a carrier calling the bridge: a SIP UAC on loopback that sends
// INVITEs to a DID, with a PCMU media endpoint that plays a tone and keeps
// what it hears.
type Caller struct {
	t     testing.TB
	host  string
	ua    *sipgo.UserAgent
	dua   *sipgo.DialogUA
	calls *sync.Map // *Call by SIP Call-ID
	wg    sync.WaitGroup

	listen func(network, address string) (net.PacketConn, error) // makes its SIP and RTP sockets
}

// NewCaller listens on host (e.g. "127.0.0.1") and serves until the test
// ends: the bridge's BYE reaches it there.
func NewCaller(t testing.TB, host string) *Caller {
	t.Helper()
	return NewCallerListen(t, host, net.ListenPacket)
}

// NewCallerListen is NewCaller with its sockets made by listen (e.g. inside
// a network namespace).
func NewCallerListen(t testing.TB, host string, listen func(network, address string) (net.PacketConn, error)) *Caller {
	t.Helper()
	conn, err := listen("udp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("siptest-caller"), sipgo.WithUserAgentHostname(host))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(port), sipgo.WithClientLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	c := &Caller{t: t, host: host, ua: ua, listen: listen,
		dua: &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "caller", Host: host, Port: port}}}}
	calls := &sync.Map{}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if v, ok := calls.Load(req.CallID().Value()); ok {
			v.(*Call).remoteBye(req, tx)
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.UPDATE, sip.INFO, sip.OPTIONS} {
		srv.OnRequest(m, func(req *sip.Request, tx sip.ServerTransaction) {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		})
	}
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	c.calls = calls
	go func() { _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		c.wg.Wait()
		_ = ua.Close()
		_ = conn.Close()
	})
	return c
}

// CallOptions shape one INVITE.
type CallOptions struct {
	From         string  // the caller's number (From user)
	DisplayName  string  // From display name
	DelayedOffer bool    // INVITE without SDP: the offer comes in the 200, the answer in the ACK
	ToneHz       float64 // the tone played once answered; 0 = silence
	Headers      []sip.Header
}

// Call is one call of a Caller.
type Call struct {
	c      *Caller
	dialog *sipgo.DialogClientSession
	rtp    net.PacketConn
	cancel context.CancelFunc
	final  chan struct{}

	mu        sync.Mutex
	codes     []int          // every response status, in order; guarded by mu
	err       error          // WaitAnswer's result; guarded by mu
	received  []int16        // decoded audio heard; guarded by mu
	remote    netip.AddrPort // the bridge's RTP address; guarded by mu
	byeByPeer bool           // the bridge sent BYE; guarded by mu
	ringing   chan struct{}
	ringOnce  sync.Once
	done      chan struct{}
	doneOnce  sync.Once
}

// Call sends an INVITE to did at the bridge's address and waits for the
// answer in the background; Ringing, Final and Answered follow it.
func (c *Caller) Call(bridgeAddr, did string, o CallOptions) *Call {
	c.t.Helper()
	rc, err := c.listen("udp", c.host+":0")
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	call := &Call{c: c, rtp: rc, cancel: cancel, final: make(chan struct{}), ringing: make(chan struct{}), done: make(chan struct{})}
	host, portStr, _ := strings.Cut(bridgeAddr, ":")
	port, _ := strconv.Atoi(portStr)
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: did, Host: host, Port: port})
	from := &sip.FromHeader{DisplayName: o.DisplayName, Address: sip.Uri{Scheme: "sip", User: o.From, Host: c.host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: did, Host: host}, Params: sip.NewParams()})
	for _, h := range o.Headers {
		req.AppendHeader(h)
	}
	if !o.DelayedOffer {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(call.sdp())
	}
	dialog, err := c.dua.WriteInvite(ctx, req)
	if err != nil {
		c.t.Fatal(err)
	}
	call.dialog = dialog
	c.calls.Store(req.CallID().Value(), call)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(call.final)
		err := dialog.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
			call.mu.Lock()
			call.codes = append(call.codes, res.StatusCode)
			call.mu.Unlock()
			if res.StatusCode == 180 || res.StatusCode == 183 {
				call.ringOnce.Do(func() { close(call.ringing) })
			}
			return nil
		}})
		if res := dialog.InviteResponse; res != nil && err == nil {
			call.mu.Lock()
			call.codes = append(call.codes, res.StatusCode)
			call.mu.Unlock()
			err = call.answered(ctx, o)
		} else if dr, ok := err.(*sipgo.ErrDialogResponse); ok {
			call.mu.Lock()
			call.codes = append(call.codes, dr.Res.StatusCode)
			call.mu.Unlock()
		}
		call.mu.Lock()
		call.err = err
		call.mu.Unlock()
	}()
	c.t.Cleanup(func() {
		call.Hangup()
		_ = rc.Close()
	})
	return call
}

func (call *Call) sdp() []byte {
	port := call.rtp.LocalAddr().(*net.UDPAddr).Port
	h := call.c.host
	return []byte(fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", h, h, port))
}

// answered ACKs the 2xx (with our answer for a delayed offer) and starts
// the media.
func (call *Call) answered(ctx context.Context, o CallOptions) error {
	res := call.dialog.InviteResponse
	remote, err := sdpAddr(res.Body())
	if err != nil {
		return err
	}
	call.mu.Lock()
	call.remote = remote
	call.mu.Unlock()
	if o.DelayedOffer {
		ack := sip.NewRequest(sip.ACK, *res.Contact().Address.Clone())
		ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		ack.SetBody(call.sdp())
		if err := call.dialog.WriteAck(ctx, ack); err != nil {
			return err
		}
	} else if err := call.dialog.Ack(ctx); err != nil {
		return err
	}
	call.c.wg.Add(2)
	go func() { defer call.c.wg.Done(); call.receive() }()
	go func() { defer call.c.wg.Done(); call.send(o.ToneHz) }()
	return nil
}

// sdpAddr reads c= and the audio m= port of an SDP body.
func sdpAddr(body []byte) (netip.AddrPort, error) {
	var ip netip.Addr
	var port int
	for _, line := range bytes.Split(body, []byte("\n")) {
		l := strings.TrimSpace(string(line))
		switch {
		case strings.HasPrefix(l, "c=IN IP4 "):
			ip, _ = netip.ParseAddr(strings.TrimPrefix(l, "c=IN IP4 "))
		case strings.HasPrefix(l, "m=audio "):
			f := strings.Fields(l)
			port, _ = strconv.Atoi(f[1])
		}
	}
	if !ip.IsValid() || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("siptest: no address in SDP %q", body)
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

func (call *Call) send(hz float64) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	call.mu.Lock()
	dst := net.UDPAddrFromAddrPort(call.remote)
	call.mu.Unlock()
	hdr := rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x5eed}
	pcm := make([]byte, 320)
	n := 0
	for {
		select {
		case <-call.done:
			return
		case <-tick.C:
		}
		for i := 0; i < 160; i++ {
			v := int16(0)
			if hz > 0 {
				v = int16(8000 * math.Sin(2*math.Pi*hz*float64(n)/8000))
			}
			pcm[2*i], pcm[2*i+1] = byte(v), byte(uint16(v)>>8)
			n++
		}
		hdr.SequenceNumber++
		hdr.Timestamp += 160
		pkt := rtp.Packet{Header: hdr, Payload: g711.EncodeUlaw(pcm)}
		b, _ := pkt.Marshal()
		if _, err := call.rtp.WriteTo(b, dst); err != nil {
			return
		}
	}
}

func (call *Call) receive() {
	buf := make([]byte, 1500)
	for {
		n, _, err := call.rtp.ReadFrom(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType != 0 {
			continue
		}
		lin := g711.DecodeUlaw(p.Payload)
		call.mu.Lock()
		for i := 0; i+1 < len(lin) && len(call.received) < 8000*60; i += 2 {
			call.received = append(call.received, int16(uint16(lin[i])|uint16(lin[i+1])<<8))
		}
		call.mu.Unlock()
	}
}

// Received is the audio heard so far (8 kHz).
func (call *Call) Received() []int16 {
	call.mu.Lock()
	defer call.mu.Unlock()
	return append([]int16(nil), call.received...)
}

// Ringing is closed on the first 180 or 183.
func (call *Call) Ringing() <-chan struct{} { return call.ringing }

// Final waits for the INVITE's final response and returns its status (0
// when none came, e.g. after a CANCEL without 487) and the wait's error.
func (call *Call) Final(ctx context.Context) (int, error) {
	select {
	case <-call.final:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	call.mu.Lock()
	defer call.mu.Unlock()
	code := 0
	if len(call.codes) > 0 {
		code = call.codes[len(call.codes)-1]
	}
	return code, call.err
}

// Codes are the statuses of every response to the INVITE.
func (call *Call) Codes() []int {
	call.mu.Lock()
	defer call.mu.Unlock()
	return append([]int(nil), call.codes...)
}

// Cancel CANCELs the INVITE (RFC 3261 §9.1).
func (call *Call) Cancel() { call.cancel() }

// Ended is closed when either side hung up.
func (call *Call) Ended() <-chan struct{} { return call.done }

// ByeByPeer says whether the bridge hung up.
func (call *Call) ByeByPeer() bool {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.byeByPeer
}

func (call *Call) remoteBye(req *sip.Request, tx sip.ServerTransaction) {
	_ = call.dialog.ReadBye(req, tx)
	call.mu.Lock()
	call.byeByPeer = true
	call.mu.Unlock()
	call.doneOnce.Do(func() { close(call.done) })
}

// Hangup sends BYE on an answered call and stops the media.
func (call *Call) Hangup() {
	call.doneOnce.Do(func() {
		close(call.done)
		if res := call.dialog.InviteResponse; res != nil && res.IsSuccess() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = call.dialog.Bye(ctx)
			cancel()
		}
	})
	call.cancel()
	_ = call.rtp.Close()
}
