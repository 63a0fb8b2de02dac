package bridge

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/callbridge/callbridge/media"
)

// payloadTypeTelephoneEvent is the dynamic payload type the bridge offers
// for RFC 4733 telephone-event on the SIP leg.
const payloadTypeTelephoneEvent = 101

var errNoAudio = errors.New("sdp: no usable audio stream")

// sdpOffer builds the SIP leg's SDP offer (RFC 3264 §5, RFC 4566): one
// audio stream on addr with the configured G.711 codecs in order, plus
// telephone-event (RFC 4733 §7.1.1).
func sdpOffer(sessID uint64, addr netip.AddrPort, codecs []media.Codec) []byte {
	ipVer := "IP4"
	if addr.Addr().Is6() {
		ipVer = "IP6"
	}
	ip := addr.Addr().String()
	var b strings.Builder
	b.WriteString("v=0\r\n")
	fmt.Fprintf(&b, "o=callbridge %d %d IN %s %s\r\n", sessID, sessID, ipVer, ip)
	b.WriteString("s=callbridge\r\n")
	fmt.Fprintf(&b, "c=IN %s %s\r\n", ipVer, ip)
	b.WriteString("t=0 0\r\n")
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", addr.Port())
	for _, c := range codecs {
		fmt.Fprintf(&b, " %d", c.PayloadType)
	}
	fmt.Fprintf(&b, " %d\r\n", payloadTypeTelephoneEvent)
	for _, c := range codecs {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/%d\r\n", c.PayloadType, c.Name, c.ClockRate)
	}
	fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\n", payloadTypeTelephoneEvent)
	fmt.Fprintf(&b, "a=fmtp:%d 0-16\r\n", payloadTypeTelephoneEvent)
	// Our RTCP port, the odd one above RTP (RFC 3605, RFC 3550 §11), and
	// RTCP on the RTP port if the answer takes rtcp-mux (RFC 5761 §5.1.1).
	fmt.Fprintf(&b, "a=rtcp:%d\r\na=rtcp-mux\r\n", addr.Port()+1)
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}

// remoteMedia is what the bridge takes from the trunk's SDP answer.
type remoteMedia struct {
	Addr        netip.AddrPort // where to send RTP until symmetric RTP latches
	Codec       media.Codec    // the first offered codec the answer kept
	DTMFType    uint8          // telephone-event payload type, 0 if absent
	Ptime       int            // a=ptime in ms, 0 if absent
	Direction   string         // the far end's effective direction: sendrecv, sendonly, recvonly, inactive
	PrivateAddr bool           // c= is a private/loopback address (NAT hint)
	RTCPMux     bool           // a=rtcp-mux: RTCP shares the RTP port (RFC 5761)
	RTCPPort    uint16         // a=rtcp: the far end's RTCP port (RFC 3605), 0 if absent
	// HoldForm says how the SDP puts the stream on hold, "" when it does
	// not: "a=sendonly", "a=recvonly", "a=inactive", "c=0.0.0.0" (RFC 2543
	// style, RFC 3264 §8.4) or "port 0" (the stream disabled, RFC 3264 §8.2).
	HoldForm string
}

// Held says whether the far end's SDP holds the stream in any form.
func (rm remoteMedia) Held() bool { return rm.Direction != "" && rm.Direction != "sendrecv" }

// sends says whether the far end's SDP lets it send RTP to the bridge
// (RFC 3264 §5.1): the media timeout only waits for RTP that may come.
func (rm remoteMedia) sends() bool { return rm.Direction == "sendrecv" || rm.Direction == "sendonly" }

// parseAnswer reads the trunk's SDP answer (RFC 3264 §6) and picks the
// first audio codec of ours that it accepted.
func parseAnswer(body []byte, offered []media.Codec) (remoteMedia, error) {
	var rm remoteMedia
	var s sdp.SessionDescription
	if err := s.UnmarshalString(string(body)); err != nil {
		return rm, fmt.Errorf("sdp: %w", err)
	}
	var conn *sdp.ConnectionInformation = s.ConnectionInformation
	rm.Direction = "sendrecv"
	for _, a := range s.Attributes {
		if isDirection(a.Key) {
			rm.Direction = a.Key
		}
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		if m.ConnectionInformation != nil {
			conn = m.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return rm, fmt.Errorf("%w: no connection address", errNoAudio)
		}
		ip, err := netip.ParseAddr(conn.Address.Address)
		if err != nil {
			return rm, fmt.Errorf("sdp: connection address %q: %w", conn.Address.Address, err)
		}
		port := m.MediaName.Port.Value
		if port <= 0 || port > 65535 {
			return rm, fmt.Errorf("%w: port %d", errNoAudio, port)
		}
		rm.Addr = netip.AddrPortFrom(ip, uint16(port))
		rm.PrivateAddr = ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast()
		held0 := ip.IsUnspecified()
		names := map[uint8]string{}
		for _, a := range m.Attributes {
			switch {
			case a.Key == "rtpmap":
				pt, name, ok := parseRtpmap(a.Value)
				if ok {
					names[pt] = name
				}
			case a.Key == "ptime":
				rm.Ptime, _ = strconv.Atoi(strings.TrimSpace(a.Value))
			case a.Key == "rtcp-mux":
				rm.RTCPMux = true
			case a.Key == "rtcp":
				// RFC 3605 §2.1: "a=rtcp:port [nettype addrtype address]".
				f := strings.Fields(a.Value)
				if len(f) > 0 {
					if n, err := strconv.Atoi(f[0]); err == nil && n > 0 && n <= 65535 {
						rm.RTCPPort = uint16(n)
					}
				}
			case isDirection(a.Key):
				rm.Direction = a.Key
			}
		}
		if rm.Direction != "sendrecv" {
			rm.HoldForm = "a=" + rm.Direction
		}
		if held0 {
			// c=0.0.0.0 (RFC 2543 hold, RFC 3264 §8.4): the far end asks
			// for no RTP; whatever it may still send (music on hold) comes.
			rm.HoldForm = "c=0.0.0.0"
			switch rm.Direction {
			case "sendrecv":
				rm.Direction = "sendonly"
			case "recvonly":
				rm.Direction = "inactive"
			}
		}
		var formats []uint8
		for _, f := range m.MediaName.Formats {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 127 {
				continue
			}
			formats = append(formats, uint8(n))
			if _, ok := names[uint8(n)]; !ok {
				switch uint8(n) { // static payload types, RFC 3551 §6
				case media.PayloadTypePCMU:
					names[uint8(n)] = "PCMU/8000"
				case media.PayloadTypePCMA:
					names[uint8(n)] = "PCMA/8000"
				}
			}
		}
		for _, pt := range formats {
			name := strings.ToUpper(names[pt])
			if strings.HasPrefix(name, "TELEPHONE-EVENT/8000") {
				rm.DTMFType = pt
			}
		}
		for _, pt := range formats {
			name := strings.ToUpper(names[pt])
			for _, c := range offered {
				if name == strings.ToUpper(c.Name)+"/8000" || strings.HasPrefix(name, strings.ToUpper(c.Name)+"/8000/") {
					rm.Codec = media.Codec{Name: c.Name, ClockRate: 8000, PayloadType: pt}
					return rm, nil
				}
			}
		}
		return rm, fmt.Errorf("%w: the answer kept none of the offered codecs", errNoAudio)
	}
	return rm, errNoAudio
}

// parseReoffer reads an SDP offer the trunk sends mid-call (re-INVITE,
// UPDATE, the answer in an ACK). A disabled audio stream (port 0, RFC 3264
// §8.2) is the call held with no media: the current codec and address stay.
func parseReoffer(body []byte, offered []media.Codec, cur remoteMedia) (remoteMedia, error) {
	rm, err := parseAnswer(body, offered)
	if err == nil {
		if !rm.Addr.Addr().IsUnspecified() || !cur.Addr.IsValid() {
			return rm, nil
		}
		// c=0.0.0.0: keep the address RTP came from for a resume.
		held := rm
		held.Addr, held.PrivateAddr = cur.Addr, cur.PrivateAddr
		return held, nil
	}
	if cur.Codec.Name == "" || !disabledAudio(body) {
		return rm, err
	}
	held := cur
	held.Direction, held.HoldForm = "inactive", "port 0"
	return held, nil
}

// disabledAudio says whether the SDP's first audio stream has port 0.
func disabledAudio(body []byte) bool {
	var s sdp.SessionDescription
	if err := s.UnmarshalString(string(body)); err != nil {
		return false
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			return m.MediaName.Port.Value == 0
		}
	}
	return false
}

func parseRtpmap(v string) (uint8, string, bool) {
	ptStr, name, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.Atoi(ptStr)
	if err != nil || n < 0 || n > 127 {
		return 0, "", false
	}
	return uint8(n), strings.TrimSpace(name), true
}

func isDirection(k string) bool {
	switch k {
	case "sendrecv", "sendonly", "recvonly", "inactive":
		return true
	}
	return false
}

// sdpAnswerFor answers a re-INVITE's offer (RFC 3264 §6, §8.4) with the
// call's codec and the offer's telephone-event payload type (0 = none); a
// sendonly offer is answered recvonly and so on. A disabled stream is
// answered with port 0 (RFC 3264 §6): pass addr with port 0.
func sdpAnswerFor(sessID uint64, addr netip.AddrPort, codec media.Codec, offerDir string, dtmfPT uint8, rtcpMux bool) []byte {
	dir := "sendrecv"
	switch offerDir {
	case "sendonly":
		dir = "recvonly"
	case "recvonly":
		dir = "sendonly"
	case "inactive":
		dir = "inactive"
	}
	ip := addr.Addr().String()
	ipVer := "IP4"
	if addr.Addr().Is6() {
		ipVer = "IP6"
	}
	var b strings.Builder
	b.WriteString("v=0\r\n")
	fmt.Fprintf(&b, "o=callbridge %d %d IN %s %s\r\n", sessID, sessID, ipVer, ip)
	b.WriteString("s=callbridge\r\n")
	fmt.Fprintf(&b, "c=IN %s %s\r\nt=0 0\r\n", ipVer, ip)
	if dtmfPT != 0 {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP %d %d\r\n", addr.Port(), codec.PayloadType, dtmfPT)
	} else {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP %d\r\n", addr.Port(), codec.PayloadType)
	}
	fmt.Fprintf(&b, "a=rtpmap:%d %s/%d\r\n", codec.PayloadType, codec.Name, codec.ClockRate)
	if dtmfPT != 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", dtmfPT, dtmfPT)
	}
	switch {
	case addr.Port() == 0:
	case rtcpMux:
		b.WriteString("a=rtcp-mux\r\n") // RFC 5761 §5.1.1: accepted as offered
	default:
		fmt.Fprintf(&b, "a=rtcp:%d\r\n", addr.Port()+1)
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", dir)
	return []byte(b.String())
}
