// Package sigclient is a Go client of the bridge's signaling protocol with
// a pion peer connection: what the tests, the e2e suite and the load
// generator use in place of a browser. It sends real Opus packets and
// decodes the G.711 the bridge sends back.
package sigclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/zaf/g711"
)

// Message is any message from the bridge, kept raw with its type.
type Message struct {
	Type string
	Raw  json.RawMessage
}

// Decode unmarshals the message into v.
func (m Message) Decode(v any) error { return json.Unmarshal(m.Raw, v) }

// CallState mirrors the protocol's call_state.
type CallState struct {
	CallID    string `json:"call_id"`
	RequestID string `json:"request_id"`
	State     string `json:"state"`
	To        string `json:"to"`
	From      string `json:"from"`
	// AnsweredAt and Hold come with the current state after a resume.
	AnsweredAt *time.Time `json:"answered_at"`
	Hold       bool       `json:"hold"`
	Cause      *struct {
		SIPCode int    `json:"sip_code"`
		Q850    int    `json:"q850"`
		Reason  string `json:"reason"`
		By      string `json:"by"`
	} `json:"cause"`
}

// ErrorMsg mirrors the protocol's error.
type ErrorMsg struct {
	RequestID string `json:"request_id"`
	CallID    string `json:"call_id"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// Ready mirrors the protocol's ready.
type Ready struct {
	SessionID  string            `json:"session_id"`
	Seat       string            `json:"seat"`
	CallerIDs  []string          `json:"caller_ids"`
	ICEServers []json.RawMessage `json:"ice_servers"`
	// ResumeToken is the first resume credential.
	ResumeToken string `json:"resume_token"`
}

// Resumed mirrors the protocol's resumed.
type Resumed struct {
	SessionID   string      `json:"session_id"`
	Calls       []string    `json:"calls"`
	CallStates  []CallState `json:"call_states"`
	ResumeToken string      `json:"resume_token"`
}

// Options configure a client.
type Options struct {
	// Origin header of the WebSocket handshake; empty = none.
	Origin string
	// ICEIPs restricts the client's ICE candidates to these IPs
	// (["127.0.0.1"] for loopback-only tests).
	ICEIPs []string
}

// Client is one signaling session with its peer connection.
type Client struct {
	ws    *websocket.Conn
	opts  Options
	Ready Ready

	wmu sync.Mutex // serializes ws writes

	msgs chan Message

	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP

	mu          sync.Mutex
	received    []int16  // decoded downlink audio at 8 kHz; guarded by mu
	recvCodec   string   // guarded by mu
	recvPkts    int      // guarded by mu
	answerSDP   string   // guarded by mu
	remoteCands []string // the bridge's trickled candidates; guarded by mu
	connected   chan struct{}
	connOnce    sync.Once
	seq         uint16
	ts          uint32
	sendPaused  bool   // guarded by mu
	resumeToken string // the latest resume credential; guarded by mu
}

// Dial opens the WebSocket at url (ws://host/v1/ws) and sends hello. It
// returns the ready reply, or the error the bridge sent.
func Dial(ctx context.Context, url, token string, opts Options) (*Client, error) {
	h := http.Header{}
	if opts.Origin != "" {
		h.Set("Origin", opts.Origin)
	}
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("sigclient: dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("sigclient: dial: %w", err)
	}
	c := &Client{ws: ws, opts: opts, msgs: make(chan Message, 256), connected: make(chan struct{})}
	go c.readLoop()
	if err := c.Send(map[string]any{"type": "hello", "token": token, "client": map[string]string{"name": "sigclient", "version": "1"}}); err != nil {
		return nil, err
	}
	m, err := c.Next(ctx, "ready", "error")
	if err != nil {
		return nil, err
	}
	if m.Type == "error" {
		var e ErrorMsg
		_ = m.Decode(&e)
		return nil, fmt.Errorf("sigclient: %s: %s", e.Code, e.Message)
	}
	if err := m.Decode(&c.Ready); err != nil {
		return nil, err
	}
	c.setResumeToken(c.Ready.ResumeToken)
	return c, nil
}

// Resume opens a new socket and resumes the session sessionID with a
// seat token and the session's resume credential. newPeer says the client
// comes back with a new peer connection, as a reloaded page does: call
// Connect next, and the bridge moves the session's calls to it.
func Resume(ctx context.Context, url, token, sessionID, resumeToken string, newPeer bool, opts Options) (*Client, Resumed, error) {
	h := http.Header{}
	if opts.Origin != "" {
		h.Set("Origin", opts.Origin)
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if err != nil {
		return nil, Resumed{}, fmt.Errorf("sigclient: dial: %w", err)
	}
	c := &Client{ws: ws, opts: opts, msgs: make(chan Message, 256), connected: make(chan struct{})}
	go c.readLoop()
	if err := c.Send(map[string]any{"type": "resume", "session_id": sessionID, "token": token, "resume_token": resumeToken, "new_peer": newPeer}); err != nil {
		c.Close()
		return nil, Resumed{}, err
	}
	m, err := c.Next(ctx, "resumed", "error")
	if err != nil {
		c.Close()
		return nil, Resumed{}, err
	}
	if m.Type == "error" {
		var e ErrorMsg
		_ = m.Decode(&e)
		c.Close()
		return nil, Resumed{}, &ResumeError{Code: e.Code, Message: e.Message}
	}
	var r Resumed
	if err := m.Decode(&r); err != nil {
		c.Close()
		return nil, Resumed{}, err
	}
	c.Ready.SessionID = r.SessionID
	c.setResumeToken(r.ResumeToken)
	return c, r, nil
}

// ResumeError is a refused resume.
type ResumeError struct{ Code, Message string }

func (e *ResumeError) Error() string {
	return "sigclient: resume refused: " + e.Code + ": " + e.Message
}

// ResumeToken is the latest resume credential the bridge handed out.
func (c *Client) ResumeToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resumeToken
}

func (c *Client) setResumeToken(v string) {
	if v == "" {
		return
	}
	c.mu.Lock()
	c.resumeToken = v
	c.mu.Unlock()
}

// WS is the underlying socket, for tests of the transport itself.
func (c *Client) WS() *websocket.Conn { return c.ws }

func (c *Client) readLoop() {
	defer close(c.msgs)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var head struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &head) != nil {
			continue
		}
		if head.Type == "candidate" {
			c.onCandidate(data)
			continue
		}
		if head.Type == "resume_token" {
			var rt struct {
				ResumeToken string `json:"resume_token"`
			}
			if json.Unmarshal(data, &rt) == nil {
				c.setResumeToken(rt.ResumeToken)
			}
		}
		c.msgs <- Message{Type: head.Type, Raw: data}
	}
}

// Send writes one JSON message.
func (c *Client) Send(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteJSON(v)
}

// Next returns the next message of one of the types (others are dropped).
func (c *Client) Next(ctx context.Context, types ...string) (Message, error) {
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				return Message{}, errors.New("sigclient: socket closed")
			}
			for _, t := range types {
				if m.Type == t {
					return m, nil
				}
			}
		case <-ctx.Done():
			return Message{}, fmt.Errorf("sigclient: waiting for %v: %w", types, ctx.Err())
		}
	}
}

// NextState returns the next call_state.
func (c *Client) NextState(ctx context.Context) (CallState, error) {
	m, err := c.Next(ctx, "call_state")
	if err != nil {
		return CallState{}, err
	}
	var cs CallState
	err = m.Decode(&cs)
	return cs, err
}

// NextError returns the next error message.
func (c *Client) NextError(ctx context.Context) (ErrorMsg, error) {
	m, err := c.Next(ctx, "error")
	if err != nil {
		return ErrorMsg{}, err
	}
	var e ErrorMsg
	err = m.Decode(&e)
	return e, err
}

// Close closes the peer connection and the socket.
func (c *Client) Close() {
	if c.pc != nil {
		_ = c.pc.Close()
	}
	_ = c.ws.Close()
}

// Connect sets up the media connection: an Opus send track, an offer,
// trickle ICE both ways; it returns once ICE and DTLS are up.
func (c *Client) Connect(ctx context.Context) error {
	m := &webrtc.MediaEngine{}
	for _, p := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	} {
		if err := m.RegisterCodec(p, webrtc.RTPCodecTypeAudio); err != nil {
			return err
		}
	}
	var s webrtc.SettingEngine
	if len(c.opts.ICEIPs) > 0 {
		allowed := map[string]bool{}
		for _, ip := range c.opts.ICEIPs {
			allowed[ip] = true
			if net.ParseIP(ip).IsLoopback() {
				s.SetIncludeLoopbackCandidate(true)
			}
		}
		s.SetIPFilter(func(ip net.IP) bool { return allowed[ip.String()] })
	}
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	c.pc = pc
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "sigclient")
	if err != nil {
		return err
	}
	if _, err := pc.AddTrack(track); err != nil {
		return err
	}
	c.track = track
	// Candidates gathered before the offer is on the wire wait for it.
	offerSent := make(chan struct{})
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		<-offerSent
		if cand == nil {
			_ = c.Send(map[string]any{"type": "candidate", "candidate": nil})
			return
		}
		_ = c.Send(map[string]any{"type": "candidate", "candidate": cand.ToJSON()})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			c.connOnce.Do(func() { close(c.connected) })
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { go c.readAudio(t) })
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	err = c.Send(map[string]any{"type": "offer", "sdp": offer.SDP})
	close(offerSent)
	if err != nil {
		return err
	}
	msg, err := c.Next(ctx, "answer", "error")
	if err != nil {
		return err
	}
	if msg.Type == "error" {
		var e ErrorMsg
		_ = msg.Decode(&e)
		return fmt.Errorf("sigclient: offer refused: %s: %s", e.Code, e.Message)
	}
	var ans struct {
		SDP string `json:"sdp"`
	}
	if err := msg.Decode(&ans); err != nil {
		return err
	}
	c.mu.Lock()
	c.answerSDP = ans.SDP
	c.mu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		return err
	}
	select {
	case <-c.connected:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sigclient: ICE/DTLS not connected: %w", ctx.Err())
	}
}

// RestartICE renegotiates the peer connection with fresh ICE credentials
// (a network change) and waits for the bridge's answer.
func (c *Client) RestartICE(ctx context.Context) error {
	offer, err := c.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return err
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := c.Send(map[string]any{"type": "offer", "sdp": offer.SDP}); err != nil {
		return err
	}
	msg, err := c.Next(ctx, "answer", "error")
	if err != nil {
		return err
	}
	if msg.Type == "error" {
		var e ErrorMsg
		_ = msg.Decode(&e)
		return fmt.Errorf("sigclient: ICE restart refused: %s: %s", e.Code, e.Message)
	}
	var ans struct {
		SDP string `json:"sdp"`
	}
	if err := msg.Decode(&ans); err != nil {
		return err
	}
	c.mu.Lock()
	c.answerSDP = ans.SDP
	c.mu.Unlock()
	return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP})
}

// RemoteCandidates are the ICE candidates the bridge trickled.
func (c *Client) RemoteCandidates() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.remoteCands...)
}

// AnswerSDP is the bridge's answer to the last offer.
func (c *Client) AnswerSDP() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answerSDP
}

func (c *Client) onCandidate(data []byte) {
	var m struct {
		Candidate *webrtc.ICECandidateInit `json:"candidate"`
	}
	if json.Unmarshal(data, &m) != nil || m.Candidate == nil || c.pc == nil {
		return
	}
	c.mu.Lock()
	c.remoteCands = append(c.remoteCands, m.Candidate.Candidate)
	c.mu.Unlock()
	_ = c.pc.AddICECandidate(*m.Candidate)
}

func (c *Client) readAudio(t *webrtc.TrackRemote) {
	codec := t.Codec().MimeType
	c.mu.Lock()
	c.recvCodec = codec
	c.mu.Unlock()
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		var pcm []int16
		switch codec {
		case webrtc.MimeTypePCMU:
			pcm = bytesToInt16(g711.DecodeUlaw(p.Payload))
		case webrtc.MimeTypePCMA:
			pcm = bytesToInt16(g711.DecodeAlaw(p.Payload))
		default:
			continue
		}
		c.mu.Lock()
		c.recvPkts++
		if len(c.received) < 8000*120 {
			c.received = append(c.received, pcm...)
		}
		c.mu.Unlock()
	}
}

func bytesToInt16(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return out
}

// Received returns the decoded downlink audio so far (8 kHz) and the codec
// it arrived in.
func (c *Client) Received() ([]int16, string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.received...), c.recvCodec, c.recvPkts
}

// ResetReceived forgets the audio received so far.
func (c *Client) ResetReceived() {
	c.mu.Lock()
	c.received = nil
	c.mu.Unlock()
}

// StreamOpus sends Opus packets every frame (20 ms) until ctx ends,
// looping over packets. While paused (mute), nothing is sent.
func (c *Client) StreamOpus(ctx context.Context, packets [][]byte, frame time.Duration) {
	if len(packets) == 0 {
		return
	}
	tick := time.NewTicker(frame)
	defer tick.Stop()
	samples := uint32(frame / (time.Second / 48000))
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		paused := c.sendPaused
		c.ts += samples // media time runs on while muted (RFC 3550 §5.1)
		if !paused {
			c.seq++ // one per packet sent
		}
		seq, ts := c.seq, c.ts
		c.mu.Unlock()
		if paused {
			continue
		}
		_ = c.track.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: i == 0},
			Payload: packets[i%len(packets)],
		})
	}
}

// Mute stops or resumes sending audio.
func (c *Client) Mute(on bool) {
	c.mu.Lock()
	c.sendPaused = on
	c.mu.Unlock()
}
