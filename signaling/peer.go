package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/media"
)

// Sentinel errors of the browser leg.
var (
	ErrBadSDP       = errors.New("signaling: bad SDP")
	ErrNoAudioOffer = errors.New("signaling: the offer has no audio with a codec the bridge handles")
	ErrPeerClosed   = errors.New("signaling: peer connection closed")
)

// Peer is a signaling session's one WebRTC peer connection. It is created on
// the first offer, renegotiated by later ones (ICE restart included), and
// reused by every call of the session. It implements bridge.BrowserLeg.
type Peer struct {
	log *slog.Logger
	pc  *webrtc.PeerConnection

	mu        sync.Mutex
	track     atomic.Pointer[webrtc.TrackLocalStaticRTP] // downlink toward the browser; set once by the first offer
	downCodec media.Codec                                // guarded by mu
	upCodec   media.Codec                                // guarded by mu
	pkt       rtp.Packet                                 // reused for downlink writes; guarded by wmu
	seq       seqRewriter                                // guarded by wmu
	wmu       sync.Mutex

	connected     chan struct{} // closed once ICE+DTLS are up
	connectedOnce sync.Once
	closed        chan struct{}
	closeOnce     sync.Once

	uplink atomic.Pointer[handlerBox]
	stats  peerCounters
}

type handlerBox struct{ h media.RTPHandler }

type peerCounters struct {
	upPackets, upBad, downPackets atomic.Uint64
	lastDown                      atomic.Int64 // unix nanos
	state                         atomic.Value // string
}

// newPeer creates the peer connection; onCandidate receives local ICE
// candidates (nil at the end of gathering), onState (if not nil) each
// change of the connection's state.
func newPeer(api *webrtc.API, log *slog.Logger, onCandidate func(*webrtc.ICECandidateInit), onState func(*Peer, webrtc.PeerConnectionState)) (*Peer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("signaling: new peer connection: %w", err)
	}
	p := &Peer{log: log, pc: pc, connected: make(chan struct{}), closed: make(chan struct{})}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			onCandidate(nil)
			return
		}
		init := c.ToJSON()
		onCandidate(&init)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		log.Debug("peer connection state", "state", s.String())
		p.stats.state.Store(s.String())
		switch s {
		case webrtc.PeerConnectionStateConnected:
			p.connectedOnce.Do(func() { close(p.connected) })
		case webrtc.PeerConnectionStateClosed:
			p.closeOnce.Do(func() { close(p.closed) })
		}
		if onState != nil {
			onState(p, s)
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if t.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		c := t.Codec()
		p.mu.Lock()
		p.upCodec = codecOf(c)
		p.mu.Unlock()
		log.Info("browser audio", "codec", c.MimeType, "fmtp", c.SDPFmtpLine, "payload_type", c.PayloadType)
		go p.readUplink(t)
	})
	return p, nil
}

func codecOf(c webrtc.RTPCodecParameters) media.Codec {
	name := strings.TrimPrefix(strings.ToLower(c.MimeType), "audio/")
	switch name {
	case "pcmu":
		name = "PCMU"
	case "pcma":
		name = "PCMA"
	}
	return media.Codec{Name: name, ClockRate: int(c.ClockRate), PayloadType: uint8(c.PayloadType)}
}

// HandleOffer applies an offer (first or renegotiation) and returns the
// answer SDP (JSEP, RFC 8829 §5.3).
func (p *Peer) HandleOffer(offerSDP string) (string, error) {
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(offerSDP); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	down, ok := downlinkCodecFromOffer(&parsed)
	if !ok {
		return "", ErrNoAudioOffer
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.track.Load() == nil {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: "audio/" + down.Name, ClockRate: 8000}, "audio", "callbridge")
		if err != nil {
			return "", fmt.Errorf("signaling: downlink track: %w", err)
		}
		sender, err := p.pc.AddTrack(track)
		if err != nil {
			return "", fmt.Errorf("signaling: add track: %w", err)
		}
		go drainRTCP(sender)
		p.track.Store(track)
		p.downCodec = down
		p.upCodec = media.Codec{Name: "opus", ClockRate: 48000, PayloadType: ptOpus}
		for _, c := range preferencesFor(&parsed) {
			if c.MimeType == webrtc.MimeTypeOpus {
				p.upCodec.PayloadType = uint8(c.PayloadType)
			}
		}
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	// pion copies the browser's Opus fmtp into the answer; preferences set
	// after SetRemoteDescription put our maxplaybackrate there instead.
	for _, tr := range p.pc.GetTransceivers() {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			if err := tr.SetCodecPreferences(preferencesFor(&parsed)); err != nil {
				p.log.Warn("codec preferences not applied", "error", err)
			}
		}
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("signaling: set local description: %w", err)
	}
	if ld := p.pc.LocalDescription(); ld != nil {
		return ld.SDP, nil
	}
	return answer.SDP, nil
}

// preferencesFor lists the bridge's codecs with the payload types of the
// offer (an answer keeps the offer's numbers, RFC 3264 §6.1), our own Opus
// fmtp, and only the codecs the offer has.
func preferencesFor(s *sdp.SessionDescription) []webrtc.RTPCodecParameters {
	offered := map[string]uint8{} // "OPUS/48000" -> pt
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			ptStr, name, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			pt, err := strconv.Atoi(ptStr)
			if err != nil || pt < 0 || pt > 127 {
				continue
			}
			parts := strings.Split(strings.ToUpper(name), "/")
			if len(parts) < 2 {
				continue
			}
			key := parts[0] + "/" + parts[1]
			if _, dup := offered[key]; !dup {
				offered[key] = uint8(pt)
			}
		}
		for _, f := range m.MediaName.Formats {
			switch f { // static payload types without rtpmap (RFC 3551 §6)
			case "0":
				if _, ok := offered["PCMU/8000"]; !ok {
					offered["PCMU/8000"] = 0
				}
			case "8":
				if _, ok := offered["PCMA/8000"]; !ok {
					offered["PCMA/8000"] = 8
				}
			}
		}
		break
	}
	var out []webrtc.RTPCodecParameters
	for _, c := range audioCodecs() {
		key := strings.ToUpper(strings.TrimPrefix(c.MimeType, "audio/")) + "/" + strconv.Itoa(int(c.ClockRate))
		if pt, ok := offered[key]; ok {
			c.PayloadType = webrtc.PayloadType(pt)
			out = append(out, c)
		}
	}
	return out
}

// downlinkCodecFromOffer picks the G.711 law the browser offered: PCMU
// first, else PCMA. The offer must have an audio section.
func downlinkCodecFromOffer(s *sdp.SessionDescription) (media.Codec, bool) {
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		hasU, hasA := false, false
		for _, f := range m.MediaName.Formats {
			switch f {
			case "0":
				hasU = true
			case "8":
				hasA = true
			}
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			v := strings.ToUpper(a.Value)
			hasU = hasU || strings.Contains(v, " PCMU/8000")
			hasA = hasA || strings.Contains(v, " PCMA/8000")
		}
		switch {
		case hasU:
			return media.CodecPCMU, true
		case hasA:
			return media.CodecPCMA, true
		}
	}
	return media.Codec{}, false
}

// AddCandidate adds a trickled remote candidate; nil is end-of-candidates.
func (p *Peer) AddCandidate(c *webrtc.ICECandidateInit) error {
	if c == nil || c.Candidate == "" {
		return nil
	}
	return p.pc.AddICECandidate(*c)
}

func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// readUplink reads the browser's RTP and hands it to the attached call.
func (p *Peer) readUplink(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		hn, err := h.Unmarshal(buf[:n])
		if err != nil {
			p.stats.upBad.Add(1)
			continue
		}
		p.stats.upPackets.Add(1)
		box := p.uplink.Load()
		if box == nil {
			continue
		}
		payload := buf[hn:n]
		if h.Padding && len(payload) > 0 {
			pad := int(payload[len(payload)-1])
			if pad > len(payload) {
				p.stats.upBad.Add(1)
				continue
			}
			payload = payload[:len(payload)-pad]
		}
		if err := media.HandleSafely(box.h, &h, payload); err != nil {
			p.stats.upBad.Add(1)
		}
	}
}

// WaitMedia implements bridge.BrowserLeg.
func (p *Peer) WaitMedia(ctx context.Context) error {
	select {
	case <-p.connected:
		return nil
	case <-p.closed:
		return ErrPeerClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InCodec implements bridge.Leg: what the browser sends.
func (p *Peer) InCodec() media.Codec {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upCodec
}

// OutCodec implements bridge.Leg: the G.711 codec the browser accepted.
func (p *Peer) OutCodec() media.Codec {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.downCodec
}

// Out implements bridge.Leg: audio toward the browser.
func (p *Peer) Out() media.RTPHandler { return peerDownlink{p} }

// SetIn implements bridge.Leg: where the browser's audio goes.
func (p *Peer) SetIn(h media.RTPHandler) {
	if h == nil {
		p.uplink.Store(nil)
		return
	}
	p.uplink.Store(&handlerBox{h})
}

type peerDownlink struct{ p *Peer }

func (d peerDownlink) HandleRTP(h *rtp.Header, payload []byte) error {
	p := d.p
	track := p.track.Load()
	if track == nil {
		return nil
	}
	now := time.Now()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.pkt.Header = *h
	p.seq.rewrite(&p.pkt.Header, now)
	p.pkt.Payload = payload
	err := track.WriteRTP(&p.pkt)
	p.pkt.Payload = nil
	if err == nil {
		p.stats.downPackets.Add(1)
		p.stats.lastDown.Store(now.UnixNano())
	}
	return err
}

func (d peerDownlink) String() string { return "webrtc" }

// Counters implements bridge.BrowserLeg.
func (p *Peer) Counters() bridge.LegCounters {
	c := bridge.LegCounters{
		FromBrowser:    p.stats.upPackets.Load(),
		FromBrowserBad: p.stats.upBad.Load(),
		ToBrowser:      p.stats.downPackets.Load(),
	}
	if n := p.stats.lastDown.Load(); n > 0 {
		c.LastToBrowserAt = time.Unix(0, n)
	}
	if s, ok := p.stats.state.Load().(string); ok {
		c.ICEState = s
	}
	return c
}

// Close closes the peer connection.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	return p.pc.Close()
}

// seqRewriter keeps the downlink one continuous RTP stream for the life of
// the peer connection. Each call (and each re-negotiated trunk stream)
// feeds it from a new source with its own random sequence numbers and
// timestamps; sent as they are on the same SSRC, a jump back in sequence
// numbers would look like a replay or a rollover to the browser's SRTP
// (RFC 3711 §3.3.1) and the new call's audio would be dropped. So a new
// source continues where the last one stopped: next sequence number, and
// a timestamp advanced by the wall-clock gap (RFC 3550 §5.1), with the
// marker bit set for the new talkspurt.
type seqRewriter struct {
	started   bool
	src       uint32 // SSRC of the current source
	seqOff    uint16
	tsOff     uint32
	lastSeq   uint16 // last sequence number sent
	lastTS    uint32 // last timestamp sent
	lastAt    time.Time
	clockRate uint32
}

func (r *seqRewriter) rewrite(h *rtp.Header, now time.Time) {
	if r.clockRate == 0 {
		r.clockRate = 8000 // the downlink is always G.711
	}
	if !r.started || h.SSRC != r.src {
		if r.started {
			gap := uint32(now.Sub(r.lastAt) * time.Duration(r.clockRate) / time.Second)
			gap = max(gap, r.clockRate/50) // at least one 20 ms frame
			r.seqOff = r.lastSeq + 1 - h.SequenceNumber
			r.tsOff = r.lastTS + gap - h.Timestamp
		}
		r.started = true
		r.src = h.SSRC
		h.Marker = true
	}
	h.SequenceNumber += r.seqOff
	h.Timestamp += r.tsOff
	r.lastSeq, r.lastTS, r.lastAt = h.SequenceNumber, h.Timestamp, now
}
