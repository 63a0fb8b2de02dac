package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// clients is what every simulated browser shares: one pion API whose ICE
// runs over a single UDP socket on 127.0.0.1 (a UDP mux), so one process
// holds hundreds of peer connections.
type clients struct {
	api *webrtc.API
	// opusOnly offers Opus alone: rtpengine answers a browser that offers
	// PCMU too with PCMU and transcodes nothing.
	opusOnly *webrtc.API
	mux      ice.UDPMux
	conn     net.PacketConn
}

func newClients() (*clients, error) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(8 << 20)
		_ = uc.SetWriteBuffer(8 << 20)
	}
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}
	pcmu := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}
	m, mOpus := &webrtc.MediaEngine{}, &webrtc.MediaEngine{}
	if err := errors.Join(m.RegisterCodec(opus, webrtc.RTPCodecTypeAudio), m.RegisterCodec(pcmu, webrtc.RTPCodecTypeAudio),
		mOpus.RegisterCodec(opus, webrtc.RTPCodecTypeAudio)); err != nil {
		conn.Close()
		return nil, err
	}
	// A browser sends RTCP sender and receiver reports; so do these.
	ir, irOpus := &interceptor.Registry{}, &interceptor.Registry{}
	if err := errors.Join(webrtc.ConfigureRTCPReports(ir), webrtc.ConfigureRTCPReports(irOpus)); err != nil {
		conn.Close()
		return nil, err
	}
	var s webrtc.SettingEngine
	mux := webrtc.NewICEUDPMux(nil, conn)
	s.SetICEUDPMux(mux)
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetHandleUndeclaredSSRCWithoutAnswer(true) // rtpengine's answer names no SSRC
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(ir))
	opusOnly := webrtc.NewAPI(webrtc.WithMediaEngine(mOpus), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(irOpus))
	return &clients{api: api, opusOnly: opusOnly, mux: mux, conn: conn}, nil
}

func (cs *clients) close() {
	_ = cs.mux.Close()
	_ = cs.conn.Close()
}

// browser is one simulated agent: a signaling session and its peer
// connection.
type browser struct {
	call  *loadCall
	ws    *websocket.Conn
	wmu   sync.Mutex
	pc    atomic.Pointer[webrtc.PeerConnection]
	track *webrtc.TrackLocalStaticRTP

	callID    string // of the call in progress; set by loadCall.place
	msgs      chan wsMessage
	connected chan struct{}
	connOnce  sync.Once
	wg        sync.WaitGroup // read loops

	// used by the pacer only
	pkt rtp.Packet
}

type wsMessage struct {
	Type string
	Raw  json.RawMessage
}

func (b *browser) send(v any) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return b.ws.WriteJSON(v)
}

// dialBrowser opens the signaling session and authenticates.
func dialBrowser(ctx context.Context, c *loadCall, url, token string) (*browser, error) {
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("websocket: %w", err)
	}
	b := &browser{call: c, ws: ws, msgs: make(chan wsMessage, 64), connected: make(chan struct{})}
	b.wg.Add(1)
	go b.readLoop()
	if err := b.send(map[string]any{"type": "hello", "token": token, "client": map[string]string{"name": "loadgen", "version": "1"}}); err != nil {
		b.close()
		return nil, err
	}
	if _, err := b.next(ctx, "ready"); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *browser) readLoop() {
	defer b.wg.Done()
	defer close(b.msgs)
	for {
		_, data, err := b.ws.ReadMessage()
		if err != nil {
			return
		}
		var head struct {
			Type      string                   `json:"type"`
			Candidate *webrtc.ICECandidateInit `json:"candidate"`
		}
		if json.Unmarshal(data, &head) != nil {
			continue
		}
		if head.Type == "candidate" {
			if pc := b.pc.Load(); head.Candidate != nil && pc != nil {
				_ = pc.AddICECandidate(*head.Candidate)
			}
			continue
		}
		b.msgs <- wsMessage{Type: head.Type, Raw: data}
	}
}

// next returns the next message of one of the types; an error message
// from the bridge becomes an error.
func (b *browser) next(ctx context.Context, types ...string) (wsMessage, error) {
	for {
		select {
		case m, ok := <-b.msgs:
			if !ok {
				return wsMessage{}, errors.New("signaling socket closed")
			}
			if m.Type == "error" {
				var e struct{ Code, Message string }
				_ = json.Unmarshal(m.Raw, &e)
				return m, &bridgeError{Code: e.Code, Message: e.Message}
			}
			for _, t := range types {
				if m.Type == t {
					return m, nil
				}
			}
		case <-ctx.Done():
			return wsMessage{}, fmt.Errorf("waiting for %v: %w", types, ctx.Err())
		}
	}
}

// bridgeError is an error message of the signaling protocol.
type bridgeError struct{ Code, Message string }

func (e *bridgeError) Error() string { return e.Code + ": " + e.Message }

// connect negotiates the peer connection (an Opus send track, trickle ICE)
// and returns once ICE and DTLS are up.
func (b *browser) connect(ctx context.Context, api *webrtc.API) error {
	pc, err := api.NewPeerConnection(pcConfig)
	if err != nil {
		return err
	}
	b.pc.Store(pc)
	if err := b.addTrack(pc); err != nil {
		return err
	}
	offerSent := make(chan struct{})
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		<-offerSent
		if cand == nil {
			_ = b.send(map[string]any{"type": "candidate", "candidate": nil})
			return
		}
		_ = b.send(map[string]any{"type": "candidate", "candidate": cand.ToJSON()})
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	err = b.send(map[string]any{"type": "offer", "sdp": offer.SDP})
	close(offerSent)
	if err != nil {
		return err
	}
	msg, err := b.next(ctx, "answer")
	if err != nil {
		return err
	}
	var ans struct {
		SDP string `json:"sdp"`
	}
	if err := json.Unmarshal(msg.Raw, &ans); err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		return err
	}
	if err := waitCtx(ctx, b.connected); err != nil {
		return fmt.Errorf("ICE/DTLS not connected: %w", err)
	}
	return nil
}

// readAudio timestamps the downlink as it arrives and matches every
// packet to its far-end frame by the payload mark.
func (b *browser) readAudio(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		at := time.Now()
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		if b.call.downTS != nil { // transcoded downlink: matched by timestamp
			b.call.downTS.arrived(p.Timestamp, at)
			continue
		}
		call, frame, ok := readMark(p.Payload)
		if !ok {
			b.call.down.unmarked.Add(1)
			continue
		}
		if call != uint32(b.call.idx) {
			b.call.down.misrouted.Add(1)
			continue
		}
		b.call.down.arrived(frame, at)
	}
}

// sendOpus writes uplink frame n (the pacer's call).
func (b *browser) sendOpus(n uint32, payload []byte) error {
	b.pkt.Header.Version = 2
	b.pkt.Header.PayloadType = 111 // pion writes the negotiated one
	b.pkt.Header.SequenceNumber = uint16(n)
	b.pkt.Header.Timestamp = n * 960
	b.pkt.Header.Marker = n == 0
	b.pkt.Payload = payload
	return b.track.WriteRTP(&b.pkt)
}

func (b *browser) close() {
	if pc := b.pc.Load(); pc != nil {
		_ = pc.Close()
	}
	if b.ws != nil {
		_ = b.ws.Close()
	}
	b.wg.Wait()
}

// addTrack adds the Opus send track and the handlers every peer needs:
// RTCP reading, the connected state, the downlink reader.
func (b *browser) addTrack(pc *webrtc.PeerConnection) error {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "loadgen")
	if err != nil {
		return err
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return err
	}
	b.track = track
	b.wg.Add(1)
	go func() { // RTCP from the bridge feeds the report interceptor
		defer b.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			b.connOnce.Do(func() { close(b.connected) })
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.readAudio(t)
		}()
	})
	return nil
}

// pcConfig is every simulated browser's configuration. Cryptex (RFC 9335)
// is off, as in browsers by default.
var pcConfig = webrtc.Configuration{RTPHeaderEncryptionPolicy: webrtc.RTPHeaderEncryptionPolicyDisable}
