// Package siptest is a scripted SIP user agent server for tests of the
// bridge's SIP leg: it answers INVITEs the way a test asks (422 first,
// session timers, Record-Route), records every request it gets, and can
// send in-dialog requests (re-INVITE, UPDATE, INFO, BYE) to the bridge.
// It speaks real SIP over UDP on loopback (sipgo); it sends no media.
package siptest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Script says how the UAS answers an INVITE.
type Script struct {
	// Reject422MinSE, when non-zero, answers the first INVITE with 422 and
	// this Min-SE (RFC 4028 §6).
	Reject422MinSE int
	// SessionExpires, when non-zero, goes into the 200 with Refresher.
	SessionExpires int
	Refresher      string // "uac" or "uas"
	// AllowUpdate lists UPDATE in the 200's Allow.
	AllowUpdate bool
	// RecordRouteHops puts that many Record-Route headers on the 200, each
	// naming this UAS with lr and hop=N (N = 1 is the hop nearest the
	// UAS), as a chain of proxies would.
	RecordRouteHops int
	// Final, when non-zero, answers with this status instead of 200.
	Final int
	// Reason is an optional Reason header for Final.
	Reason string
	// RTPPort is the port written into the answer's SDP.
	RTPPort int
	// RingOnly answers 180 and nothing else until the INVITE is
	// cancelled (then 487).
	RingOnly bool
}

// UAS is the scripted server.
type UAS struct {
	t      testing.TB
	Addr   string // host:port it listens on
	script Script
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	dua    *sipgo.DialogUA

	mu       sync.Mutex
	requests []*sip.Request                        // everything received, in order; guarded by mu
	dialogs  map[string]*sipgo.DialogServerSession // by Call-ID; guarded by mu
	acked    map[string]chan struct{}              // closed when the dialog's ACK arrived; guarded by mu
	invites  int                                   // INVITEs outside a dialog; guarded by mu
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB, script Script) *UAS {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().(*net.UDPAddr)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("siptest-uas"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(addr.Port), sipgo.WithClientLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	u := &UAS{t: t, Addr: addr.String(), script: script, ua: ua, srv: srv, dialogs: map[string]*sipgo.DialogServerSession{}, acked: map[string]chan struct{}{},
		dua: &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "uas", Host: "127.0.0.1", Port: addr.Port}}}}
	srv.OnInvite(u.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		u.record(req)
		if d := u.dialog(req); d != nil {
			_ = d.ReadAck(req, tx)
			u.mu.Lock()
			if ch, ok := u.acked[req.CallID().Value()]; ok {
				select {
				case <-ch:
				default:
					close(ch)
				}
			}
			u.mu.Unlock()
		}
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		u.record(req)
		if d := u.dialog(req); d != nil {
			_ = d.ReadBye(req, tx)
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) { u.record(req) })
	for _, m := range []sip.RequestMethod{sip.UPDATE, sip.INFO, sip.OPTIONS} {
		srv.OnRequest(m, func(req *sip.Request, tx sip.ServerTransaction) {
			u.record(req)
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			if st := req.GetHeader("Session-Expires"); st != nil {
				res.AppendHeader(sip.NewHeader("Session-Expires", st.Value()))
				res.AppendHeader(sip.NewHeader("Require", "timer"))
			}
			_ = tx.Respond(res)
		})
	}
	go func() { _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() { _ = ua.Close(); _ = conn.Close() })
	return u
}

func (u *UAS) record(req *sip.Request) {
	u.mu.Lock()
	u.requests = append(u.requests, req.Clone())
	u.mu.Unlock()
}

func (u *UAS) dialog(req *sip.Request) *sipgo.DialogServerSession {
	u.mu.Lock()
	defer u.mu.Unlock()
	if id := req.CallID(); id != nil {
		return u.dialogs[id.Value()]
	}
	return nil
}

func (u *UAS) sdp() []byte {
	return []byte(fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", u.script.RTPPort))
}

func (u *UAS) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	u.record(req)
	if to := req.To(); to != nil && to.Params.Has("tag") {
		// re-INVITE from the bridge: a refresh or hold; answer with our SDP.
		res := sip.NewResponseFromRequest(req, 200, "OK", u.sdp())
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(&u.dua.ContactHDR)
		if st := req.GetHeader("Session-Expires"); st != nil {
			res.AppendHeader(sip.NewHeader("Session-Expires", st.Value()))
			res.AppendHeader(sip.NewHeader("Require", "timer"))
		}
		_ = tx.Respond(res)
		return
	}
	u.mu.Lock()
	u.invites++
	n := u.invites
	u.mu.Unlock()
	if n == 1 && u.script.Reject422MinSE > 0 {
		res := sip.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
		res.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(u.script.Reject422MinSE)))
		_ = tx.Respond(res)
		return
	}
	d, err := u.dua.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	u.mu.Lock()
	u.dialogs[req.CallID().Value()] = d
	u.acked[req.CallID().Value()] = make(chan struct{})
	u.mu.Unlock()
	_ = d.Respond(180, "Ringing", nil)
	if u.script.RingOnly {
		cancelled := make(chan struct{})
		tx.OnCancel(func(r *sip.Request) { u.record(r); close(cancelled) })
		select {
		case <-cancelled:
			_ = d.Respond(sip.StatusRequestTerminated, "Request Terminated", nil)
		case <-tx.Done():
		}
		return
	}
	if u.script.Final != 0 {
		var hdrs []sip.Header
		if u.script.Reason != "" {
			hdrs = append(hdrs, sip.NewHeader("Reason", u.script.Reason))
		}
		_ = d.Respond(u.script.Final, "Scripted", nil, hdrs...)
		return
	}
	hdrs := []sip.Header{sip.NewHeader("Content-Type", "application/sdp")}
	allow := "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
	if u.script.AllowUpdate {
		allow += ", UPDATE"
	}
	hdrs = append(hdrs, sip.NewHeader("Allow", allow))
	if u.script.SessionExpires > 0 {
		hdrs = append(hdrs, sip.NewHeader("Session-Expires", fmt.Sprintf("%d;refresher=%s", u.script.SessionExpires, u.script.Refresher)),
			sip.NewHeader("Require", "timer"))
	}
	for hop := 1; hop <= u.script.RecordRouteHops; hop++ {
		// Each proxy puts its Record-Route on top, so the one nearest
		// the UAS (hop 1) comes first in the response.
		hdrs = append(hdrs, sip.NewHeader("Record-Route", fmt.Sprintf("<sip:%s;lr;hop=%d>", u.Addr, hop)))
	}
	_ = d.Respond(200, "OK", u.sdp(), hdrs...)
	// Keep the server transaction until the ACK (RFC 3261 §13.3.1.4).
	<-tx.Done()
}

// Silent is a trunk that never answers anything: a bound UDP socket that
// reads nothing, for timeouts and probes. Only its Addr is usable.
func Silent(t testing.TB) *UAS {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &UAS{t: t, Addr: conn.LocalAddr().String()}
}

// Requests returns the requests received with the method, in order.
func (u *UAS) Requests(method sip.RequestMethod) []*sip.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*sip.Request
	for _, r := range u.requests {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// WaitRequests waits until n requests of method arrived.
func (u *UAS) WaitRequests(method sip.RequestMethod, n int, timeout time.Duration) []*sip.Request {
	u.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r := u.Requests(method); len(r) >= n {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	u.t.Fatalf("siptest: %d %s within %s, got %d", n, method, timeout, len(u.Requests(method)))
	return nil
}

// Send sends an in-dialog request to the bridge in the call's dialog and
// returns the final response.
func (u *UAS) Send(callID string, method sip.RequestMethod, contentType string, body []byte, hdrs ...sip.Header) (*sip.Response, error) {
	u.mu.Lock()
	d, acked := u.dialogs[callID], u.acked[callID]
	u.mu.Unlock()
	if d == nil {
		return nil, fmt.Errorf("siptest: no dialog %s", callID)
	}
	// The dialog is ours to use once the 200 is ACKed (RFC 3261 §13.3.1.4).
	select {
	case <-acked:
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("siptest: no ACK for %s", callID)
	}
	req := sip.NewRequest(method, d.InviteRequest.Contact().Address)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.Do(ctx, req)
}

// Bye hangs the call up from the UAS with an optional Reason.
func (u *UAS) Bye(callID, reason string) error {
	u.mu.Lock()
	d := u.dialogs[callID]
	u.mu.Unlock()
	if d == nil {
		return fmt.Errorf("siptest: no dialog %s", callID)
	}
	bye := sip.NewRequest(sip.BYE, d.InviteRequest.Contact().Address)
	if reason != "" {
		bye.AppendHeader(sip.NewHeader("Reason", reason))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.WriteBye(ctx, bye)
}

// HoldSDP is an offer putting the bridge on hold (a=sendonly).
func (u *UAS) HoldSDP(dir string) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n", u.script.RTPPort, dir))
}
