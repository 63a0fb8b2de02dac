package signaling

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/callbridge/callbridge/config"
)

// Payload types the bridge registers; browsers' own numbers win in answers.
const (
	ptOpus           = 111
	ptTelephoneEvent = 101
)

// OpusFmtp is the Opus format the bridge asks browsers for (RFC 7587 §7).
// maxplaybackrate=8000 makes Chromium send narrowband SILK: the PSTN leg is
// 8 kHz, so nothing is lost, and SILK-NB is several times cheaper to decode
// than the default fullband hybrid mode.
const OpusFmtp = "minptime=10;useinbandfec=1;maxplaybackrate=8000"

// audioCodecs are the browser leg's codecs in answer preference order.
func audioCodecs() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: OpusFmtp}, PayloadType: ptOpus},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: ptTelephoneEvent},
	}
}

// NewAPI builds the one webrtc.API of the process from an explicit
// MediaEngine (only the codecs the bridge handles) and SettingEngine (ports,
// NAT 1:1, interface filter). udpMux, when non-nil, carries all ICE traffic
// on one socket (webrtc.udp_port); main owns it.
func NewAPI(cfg config.WebRTC, log *slog.Logger, udpMux net.PacketConn) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range audioCodecs() {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("signaling: register %s: %w", c.MimeType, err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("signaling: rtcp reports: %w", err)
	}

	s := webrtc.SettingEngine{LoggerFactory: slogFactory{log}}
	if udpMux != nil {
		s.SetICEUDPMux(webrtc.NewICEUDPMux(slogFactory{log}.NewLogger("udpmux"), udpMux))
	} else if cfg.PortRange != "" {
		lo, hi, err := parseRange(cfg.PortRange)
		if err != nil {
			return nil, fmt.Errorf("signaling: webrtc.port_range: %w", err)
		}
		if err := s.SetEphemeralUDPPortRange(uint16(lo), uint16(hi)); err != nil {
			return nil, fmt.Errorf("signaling: webrtc.port_range: %w", err)
		}
	}
	if len(cfg.NAT1To1IPs) > 0 {
		s.SetNAT1To1IPs(cfg.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	if len(cfg.ICEInterfaces) > 0 {
		var names []string
		var ips []netip.Addr
		for _, v := range cfg.ICEInterfaces {
			if ip, err := netip.ParseAddr(v); err == nil {
				ips = append(ips, ip.Unmap())
			} else {
				names = append(names, v)
			}
		}
		if len(names) > 0 {
			s.SetInterfaceFilter(func(name string) bool { return slices.Contains(names, name) })
		}
		if len(ips) > 0 {
			s.SetIPFilter(func(ip net.IP) bool {
				a, ok := netip.AddrFromSlice(ip)
				return ok && slices.Contains(ips, a.Unmap())
			})
		}
		for _, ip := range ips {
			if ip.IsLoopback() {
				s.SetIncludeLoopbackCandidate(true)
			}
		}
		if slices.Contains(names, "lo") {
			s.SetIncludeLoopbackCandidate(true)
		}
	}
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	// No mDNS: a browser's .local candidates name its own LAN, which a
	// server cannot reach anyway (the browser's checks reveal its address
	// as a peer-reflexive candidate). pion's default would open mDNS
	// sockets for every peer connection: 4 FDs and 3 goroutines a call.
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(s)), nil
}

func parseRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not low-high", s)
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || lo <= 0 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a port range", s)
	}
	return lo, hi, nil
}
