package demotrunk

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

const (
	sampleRate     = 8000
	frameDuration  = 20 * time.Millisecond
	frameSamples   = sampleRate / 50 // 160 samples per 20 ms packet
	toneLevel      = 0.3 * math.MaxInt16
	maxEchoBacklog = sampleRate       // at most 1 s of audio waits to be echoed
	echoPrefill    = 3 * frameSamples // jitter buffer before echoing starts (60 ms)
	maxBurstFrames = 5                // frames sent at once to catch up after a stall
)

// source is what the trunk plays into the call.
type source int

const (
	sourceSilence source = iota
	sourceTone
	sourceEcho
)

// media is one call's RTP session (RFC 3550) on its own UDP socket: it sends
// a 20 ms G.711 packet per tick and decodes what arrives.
type media struct {
	log     *slog.Logger
	conn    net.PacketConn
	pt      uint8
	eventPT int // -1 when telephone-event was not negotiated
	encode  func(int16) uint8
	decode  func(uint8) int16

	// onAudio and onDigit are called from the receive goroutine.
	onAudio func([]int16)
	onDigit func(byte)

	mu      sync.Mutex
	remote  netip.AddrPort // guarded by mu; SDP address, then the latched source
	latched bool           // guarded by mu
	src     source         // guarded by mu
	toneHz  float64        // guarded by mu
	echo    []int16        // guarded by mu; received audio waiting to be echoed
	primed  bool           // guarded by mu; echo holds echoPrefill, playing out
	send    bool           // guarded by mu; false when the answer is recvonly/inactive (RFC 3264 §6.1)
	rtcpMux bool           // RTCP on the RTP port (RFC 5761); set at creation
	// The caller's stream as received, for RTCP receiver reports
	// (RFC 3550 §6.4.1); guarded by mu.
	rxSSRC     uint32
	rxMaxSeq   uint32 // extended highest sequence number
	rxStarted  bool
	rxBase     uint32
	rxReceived uint32
}

func newMedia(log *slog.Logger, conn net.PacketConn, o offer) *media {
	m := &media{
		log:     log,
		conn:    conn,
		pt:      o.pt,
		eventPT: o.eventPT,
		send:    sends(o.direction),
		rtcpMux: o.rtcpMux,
		remote:  o.addr,
		onAudio: func([]int16) {},
		onDigit: func(byte) {},
	}
	if o.codec == CodecPCMA {
		m.encode, m.decode = g711.EncodeAlawFrame, g711.DecodeAlawFrame
	} else {
		m.encode, m.decode = g711.EncodeUlawFrame, g711.DecodeUlawFrame
	}
	return m
}

// play switches what is sent; the tone phase stays continuous.
func (m *media) play(s source, hz float64) {
	m.mu.Lock()
	m.src, m.toneHz = s, hz
	m.echo, m.primed = m.echo[:0], false
	m.mu.Unlock()
}

// sends reports whether the trunk sends media for an offer direction.
func sends(offerDir string) bool { return offerDir == "sendrecv" || offerDir == "recvonly" }

// update applies an offer inside the dialog (RFC 3264 §8): new direction,
// and a new address allows one new latch.
func (m *media) update(o offer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.send = sends(o.direction)
	if o.addr != m.remote {
		m.remote, m.latched = o.addr, false
	}
}

// port is the local RTP port written into the SDP answer.
func (m *media) port() int {
	if ua, ok := m.conn.LocalAddr().(*net.UDPAddr); ok {
		return ua.Port
	}
	return 0
}

// run sends and receives until ctx is done, then closes the socket.
func (m *media) run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.receive()
	}()
	m.sendLoop(ctx)
	_ = m.conn.Close()
	<-done
}

func (m *media) sendLoop(ctx context.Context) {
	var rnd [10]byte
	_, _ = rand.Read(rnd[:])
	hdr := rtp.Header{
		Version:        2,
		PayloadType:    m.pt,
		SequenceNumber: binary.BigEndian.Uint16(rnd[0:2]),
		Timestamp:      binary.BigEndian.Uint32(rnd[2:6]),
		SSRC:           binary.BigEndian.Uint32(rnd[6:10]),
		Marker:         true, // first packet of a talkspurt (RFC 3551 §4.1)
	}
	var (
		pcm   [frameSamples]int16
		buf   = make([]byte, 12+frameSamples)
		phase float64
		start = time.Now()
		sent  int64

		lastReport = time.Now()
	)
	tick := time.NewTicker(frameDuration)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int64(time.Since(start)/frameDuration) + 1
		if due-sent > maxBurstFrames {
			// After a long stall skip ahead: the timestamp still advances
			// with the wall clock (RFC 3550 §5.1), the sequence stays dense.
			skipped := due - sent - maxBurstFrames
			hdr.Timestamp += uint32(skipped * frameSamples)
			sent += skipped
		}
		if time.Since(lastReport) >= time.Second {
			m.sendReport(hdr.SSRC)
			lastReport = time.Now()
		}
		for ; sent < due; sent++ {
			var send bool
			phase, send = m.nextFrame(pcm[:], phase)
			if send {
				m.writeFrame(&hdr, pcm[:], buf)
				hdr.Marker = false
				// The sequence number counts packets sent (RFC 3550 §5.1):
				// a receiver takes a gap in it for loss, so it must not
				// move while nothing is sent (hold, recvonly).
				hdr.SequenceNumber++
			} else {
				// Sending resumes with a new talkspurt (RFC 3551 §4.1).
				hdr.Marker = true
			}
			// The timestamp follows the sampling clock, sent or not.
			hdr.Timestamp += frameSamples
		}
	}
}

// nextFrame fills pcm from the current source; it returns the tone phase
// and whether the frame is to be sent.
func (m *media) nextFrame(pcm []int16, phase float64) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.src {
	case sourceTone:
		step := 2 * math.Pi * m.toneHz / sampleRate
		for i := range pcm {
			pcm[i] = int16(toneLevel * math.Sin(phase))
			phase += step
		}
		phase = math.Mod(phase, 2*math.Pi)
	case sourceEcho:
		// A small jitter buffer keeps the echo continuous when packets
		// arrive unevenly; after an underrun it fills up again.
		if !m.primed && len(m.echo) >= echoPrefill {
			m.primed = true
		}
		n := 0
		if m.primed {
			n = copy(pcm, m.echo)
			m.echo = m.echo[:copy(m.echo, m.echo[n:])]
			m.primed = n == len(pcm)
		}
		clear(pcm[n:])
	default:
		clear(pcm)
	}
	return phase, m.send
}

func (m *media) writeFrame(hdr *rtp.Header, pcm []int16, buf []byte) {
	n, err := hdr.MarshalTo(buf)
	if err != nil {
		m.log.Warn("rtp header", "error", err)
		return
	}
	for i, s := range pcm {
		buf[n+i] = m.encode(s)
	}
	m.mu.Lock()
	dst := m.remote
	m.mu.Unlock()
	if _, err := m.conn.WriteTo(buf[:n+len(pcm)], udpAddr(dst)); err != nil && !errors.Is(err, net.ErrClosed) {
		m.log.Debug("rtp send", "error", err, "remote", dst)
	}
}

func (m *media) receive() {
	buf := make([]byte, 1500)
	pcm := make([]int16, 0, frameSamples)
	var lastEventTS uint32
	var haveEvent bool
	for {
		n, from, err := m.conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				m.log.Debug("rtp receive", "error", err)
			}
			return
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		if n >= 2 && buf[1] >= 192 && buf[1] <= 223 {
			continue // the caller's RTCP (RFC 5761 §4): not needed here
		}
		var pkt rtp.Packet
		if err := pkt.Unmarshal(buf[:n]); err != nil || pkt.Version != 2 {
			continue
		}
		src := ua.AddrPort()
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if !m.latch(src) {
			continue
		}
		m.count(&pkt.Header)
		switch {
		case pkt.PayloadType == m.pt:
			pcm = pcm[:0]
			for _, b := range pkt.Payload {
				pcm = append(pcm, m.decode(b))
			}
			m.onAudio(pcm)
			m.mu.Lock()
			if m.src == sourceEcho {
				m.echo = append(m.echo, pcm...)
				if over := len(m.echo) - maxEchoBacklog; over > 0 {
					m.echo = m.echo[:copy(m.echo, m.echo[over:])]
				}
			}
			m.mu.Unlock()
		case m.eventPT >= 0 && int(pkt.PayloadType) == m.eventPT && len(pkt.Payload) >= 4:
			// RFC 4733 §2.3: event, E bit; the end packet is sent up to three times.
			event, end := pkt.Payload[0], pkt.Payload[1]&0x80 != 0
			if end && (!haveEvent || pkt.Timestamp != lastEventTS) && event <= 15 {
				haveEvent, lastEventTS = true, pkt.Timestamp
				m.onDigit("0123456789*#ABCD"[event])
			}
		}
	}
}

// count notes a received packet for the receiver reports (RFC 3550 A.1).
func (m *media) count(h *rtp.Header) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.rxStarted || h.SSRC != m.rxSSRC {
		m.rxStarted, m.rxSSRC, m.rxBase, m.rxMaxSeq, m.rxReceived = true, h.SSRC, uint32(h.SequenceNumber), uint32(h.SequenceNumber), 0
	}
	m.rxReceived++
	cycles, low := m.rxMaxSeq&^0xffff, uint16(m.rxMaxSeq)
	if d := h.SequenceNumber - low; d != 0 && d < 0x8000 {
		if h.SequenceNumber < low {
			cycles += 1 << 16
		}
		m.rxMaxSeq = cycles | uint32(h.SequenceNumber)
	}
}

// sendReport sends a receiver report on the caller's stream (RFC 3550
// §6.4.2) on the RTP port, when rtcp-mux was agreed.
func (m *media) sendReport(ssrc uint32) {
	m.mu.Lock()
	if !m.rtcpMux || !m.rxStarted || !m.latched {
		m.mu.Unlock()
		return
	}
	lost := int64(m.rxMaxSeq-m.rxBase+1) - int64(m.rxReceived)
	rr := &rtcp.ReceiverReport{SSRC: ssrc, Reports: []rtcp.ReceptionReport{{
		SSRC: m.rxSSRC, LastSequenceNumber: m.rxMaxSeq, TotalLost: uint32(max(0, lost)) & 0xffffff,
	}}}
	dst := m.remote
	m.mu.Unlock()
	b, err := rr.Marshal()
	if err != nil {
		return
	}
	_, _ = m.conn.WriteTo(b, udpAddr(dst))
}

// latch implements symmetric RTP (RFC 4961): the first packet's source becomes
// the destination; packets from other sources are dropped afterwards.
func (m *media) latch(src netip.AddrPort) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.latched {
		if m.remote != src {
			m.log.Debug("rtp latched", "sdp", m.remote, "source", src)
		}
		m.remote, m.latched = src, true
		return true
	}
	return m.remote == src
}

// listenRTP opens the call's RTP socket on host, on an even port of the
// range (RFC 3550 §11) or an OS-chosen port when the range is 0,0.
func listenRTP(host netip.Addr, ports [2]int) (net.PacketConn, error) {
	if ports[0] == 0 && ports[1] == 0 {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, 0)))
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	span := (ports[1]-ports[0])/2 + 1
	first := int(binary.BigEndian.Uint16(b[:])) % span
	var lastErr error
	for i := range span {
		p := ports[0] + ((first+i)%span)*2
		if p%2 == 1 {
			p++
		}
		if p > ports[1] {
			continue
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, uint16(p))))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("no free RTP port in %d-%d: %w", ports[0], ports[1], lastErr)
}
