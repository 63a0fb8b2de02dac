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
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}

// remoteMedia is what the bridge takes from the trunk's SDP answer.
type remoteMedia struct {
	Addr        netip.AddrPort // where to send RTP until symmetric RTP latches
	Codec       media.Codec    // the first offered codec the answer kept
	DTMFType    uint8          // telephone-event payload type, 0 if absent
	Ptime       int            // a=ptime in ms, 0 if absent
	Direction   string         // sendrecv, sendonly, recvonly, inactive
	PrivateAddr bool           // c= is a private/loopback address (NAT hint)
	RTCPMux     bool           // a=rtcp-mux: RTCP shares the RTP port (RFC 5761)
}

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
			case isDirection(a.Key):
				rm.Direction = a.Key
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
// sendonly offer is answered recvonly and so on.
func sdpAnswerFor(sessID uint64, addr netip.AddrPort, codec media.Codec, offerDir string, dtmfPT uint8) []byte {
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
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", dir)
	return []byte(b.String())
}
