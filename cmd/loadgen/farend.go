package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// farEnd is the SIP trunk the bridge calls: a sipgo user agent server on
// loopback that answers every INVITE, and per call one RTP socket that
// sends marked PCMU (see markPayload) and timestamps what the bridge sends.
// It runs in the load generator's process, so the bridge's CPU figures are
// the bridge's alone.
type farEnd struct {
	addr  netip.AddrPort
	ring  time.Duration
	calls *callTable
	ua    *sipgo.UserAgent
	srv   *sipgo.Server
	dua   *sipgo.DialogUA
	conn  net.PacketConn

	wg sync.WaitGroup // RTP readers and INVITE handlers
}

// callTable maps the dialled number to the load generator's call.
type callTable struct {
	mu    sync.Mutex
	byNum map[string]*loadCall
}

func (t *callTable) add(c *loadCall) {
	t.mu.Lock()
	t.byNum[c.number] = c
	t.mu.Unlock()
}

func (t *callTable) get(num string) *loadCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byNum[num]
}

func startFarEnd(calls *callTable, ring time.Duration) (*farEnd, error) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("loadgen-far-end"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		conn.Close()
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		conn.Close()
		return nil, err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(int(addr.Port())), sipgo.WithClientLogger(log))
	if err != nil {
		conn.Close()
		return nil, err
	}
	f := &farEnd{addr: addr, ring: ring, calls: calls, ua: ua, srv: srv, conn: conn,
		dua: &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "far", Host: "127.0.0.1", Port: int(addr.Port())}}}}
	srv.OnInvite(f.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if c := f.callOf(req); c != nil {
			if d := c.dialog(); d != nil {
				_ = d.ReadAck(req, tx)
			}
		}
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		c := f.callOf(req)
		if c == nil || c.dialog() == nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		_ = c.dialog().ReadBye(req, tx)
		c.farEndBye()
	})
	srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	for _, m := range []sip.RequestMethod{sip.UPDATE, sip.INFO, sip.OPTIONS} {
		srv.OnRequest(m, func(req *sip.Request, tx sip.ServerTransaction) {
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			if st := req.GetHeader("Session-Expires"); st != nil {
				res.AppendHeader(sip.NewHeader("Session-Expires", st.Value()))
				res.AppendHeader(sip.NewHeader("Require", "timer"))
			}
			_ = tx.Respond(res)
		})
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		_ = srv.ServeUDP(conn)
	}()
	return f, nil
}

func (f *farEnd) close() {
	_ = f.ua.Close()
	_ = f.conn.Close()
	f.wg.Wait()
}

// callOf finds the load call of a request by its To user (the number
// the bridge dialled).
func (f *farEnd) callOf(req *sip.Request) *loadCall {
	to := req.To()
	if to == nil {
		return nil
	}
	user := to.Address.User
	if !strings.HasPrefix(user, "+") {
		user = "+" + user
	}
	return f.calls.get(user)
}

func (f *farEnd) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	now := time.Now()
	if to := req.To(); to != nil && to.Params.Has("tag") {
		// A re-INVITE (session refresh, hold): keep our SDP.
		c := f.callOf(req)
		if c == nil || c.rtp == nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", c.rtp.sdp())
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(&f.dua.ContactHDR)
		_ = tx.Respond(res)
		return
	}
	c := f.callOf(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	c.inviteAt.Store(now.UnixNano())
	remote, err := remoteRTP(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		c.fail(fmt.Errorf("far end: %w", err))
		return
	}
	r, err := newFarRTP(c, remote)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		c.fail(fmt.Errorf("far end: %w", err))
		return
	}
	d, err := f.dua.ReadInvite(req, tx)
	if err != nil {
		r.close()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	c.setDialog(d, r)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		r.readLoop()
	}()
	_ = d.Respond(180, "Ringing", nil)
	if f.ring > 0 {
		select {
		case <-time.After(f.ring):
		case <-tx.Done():
			return
		}
	}
	if err := d.Respond(200, "OK", r.sdp(), sip.NewHeader("Content-Type", "application/sdp"),
		sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO")); err != nil {
		c.fail(fmt.Errorf("far end: 200: %w", err))
		return
	}
	c.farAnswered()
	<-tx.Done() // keep the transaction until the ACK (RFC 3261 §13.3.1.4)
}

// remoteRTP reads the address the bridge receives RTP on from its offer.
func remoteRTP(body []byte) (netip.AddrPort, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad SDP offer: %w", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return netip.AddrPort{}, errors.New("SDP offer without media")
	}
	m := sd.MediaDescriptions[0]
	ci := sd.ConnectionInformation
	if m.ConnectionInformation != nil {
		ci = m.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return netip.AddrPort{}, errors.New("SDP offer without c=")
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("SDP c= address: %w", err)
	}
	if !ip.IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("SDP offer names %s, not loopback: refused", ip)
	}
	return netip.AddrPortFrom(ip, uint16(m.MediaName.Port.Value)), nil
}

// farRTP is the far end's media of one call.
type farRTP struct {
	call   *loadCall
	conn   *net.UDPConn
	remote netip.AddrPort
	port   int

	// sending; used by the pacer only
	pkt     rtp.Packet
	buf     [1500]byte
	payload [160]byte
}

func newFarRTP(c *loadCall, remote netip.AddrPort) (*farRTP, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	r := &farRTP{call: c, conn: conn, remote: remote, port: conn.LocalAddr().(*net.UDPAddr).Port}
	r.pkt.Header = rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x10ad0000 + uint32(c.idx), SequenceNumber: uint16(c.idx * 7919)}
	copy(r.payload[:], tonePCMU)
	return r, nil
}

func (r *farRTP) sdp() []byte {
	return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(r.port) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n")
}

// send writes frame number n of the downlink, marked (see markPayload).
func (r *farRTP) send(n uint32) error {
	markPayload(r.payload[:], uint32(r.call.idx), n)
	r.pkt.Header.Timestamp = n * 160
	r.pkt.Header.Marker = n == 0
	r.pkt.Payload = r.payload[:]
	size, err := r.pkt.MarshalTo(r.buf[:])
	r.pkt.Header.SequenceNumber++
	if err != nil {
		return err
	}
	_, err = r.conn.WriteToUDPAddrPort(r.buf[:size], r.remote)
	return err
}

// readLoop timestamps the bridge's G.711 as it arrives, until the socket
// is closed.
func (r *farRTP) readLoop() {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		at := time.Now()
		if _, err := h.Unmarshal(buf[:n]); err != nil || h.PayloadType > 8 {
			continue // not audio (e.g. telephone-event); not measured
		}
		r.call.up.arrived(h.Timestamp, at)
	}
}

func (r *farRTP) close() { _ = r.conn.Close() }

// tonePCMU is 20 ms of a 1 kHz tone at -10 dBFS, a whole number of periods.
var tonePCMU = mediatest.EncodeG711(media.CodecPCMU, mediatest.Sine(160, 8000, 1000, 0.3))

// markPayload writes the call and frame number into the first bytes of a
// PCMU payload. The bridge passes PCMU to a PCMU browser byte for byte, so
// the client reads them back and matches every packet to the moment it was
// sent: per-packet latency, loss and misrouting without clock guessing.
// The rest of the payload stays a 1 kHz tone.
func markPayload(p []byte, call, frame uint32) {
	p[0], p[1] = 'L', 'G'
	p[2], p[3], p[4], p[5] = byte(call>>24), byte(call>>16), byte(call>>8), byte(call)
	p[6], p[7], p[8], p[9] = byte(frame>>24), byte(frame>>16), byte(frame>>8), byte(frame)
}

// readMark reads what markPayload wrote; ok is false on unmarked audio.
func readMark(p []byte) (call, frame uint32, ok bool) {
	if len(p) < 10 || p[0] != 'L' || p[1] != 'G' {
		return 0, 0, false
	}
	call = uint32(p[2])<<24 | uint32(p[3])<<16 | uint32(p[4])<<8 | uint32(p[5])
	frame = uint32(p[6])<<24 | uint32(p[7])<<16 | uint32(p[8])<<8 | uint32(p[9])
	return call, frame, true
}

// waitCtx waits for ch or ctx.
func waitCtx(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
