package demotrunk

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Codec names the trunk answers with.
const (
	CodecPCMU = "PCMU"
	CodecPCMA = "PCMA"
)

// Static payload types of RFC 3551 §6.
const (
	ptPCMU = 0
	ptPCMA = 8
)

// offer is what the trunk needs from the caller's SDP offer.
type offer struct {
	codec     string         // CodecPCMU or CodecPCMA, the first one offered
	pt        uint8          // payload type of codec in the offer
	eventPT   int            // telephone-event payload type (RFC 4733), -1 when not offered
	addr      netip.AddrPort // where the caller wants RTP (c= and m= port)
	direction string         // sendrecv, sendonly, recvonly or inactive (RFC 3264 §6.1)
	rtcpMux   bool           // the caller offers RTCP on the RTP port (RFC 5761)
}

// parseOffer reads an SDP offer (RFC 4566) and picks, per RFC 3264 §6.1, the
// first offered format the trunk supports on the first active audio stream.
func parseOffer(body []byte) (offer, error) {
	var o offer
	if len(body) == 0 {
		return o, withStatus(400, "Bad Request", fmt.Errorf("%w: empty body", ErrBadSDP))
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return o, withStatus(400, "Bad Request", fmt.Errorf("%w: %w", ErrBadSDP, err))
	}
	var audio *sdp.MediaDescription
	for _, md := range sd.MediaDescriptions {
		if md == nil || md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		// Plain RTP only: RTP/AVP or RTP/AVPF (no SRTP on the trunk side).
		proto := strings.Join(md.MediaName.Protos, "/")
		if proto != "RTP/AVP" && proto != "RTP/AVPF" {
			continue
		}
		audio = md
		break
	}
	if audio == nil {
		return o, withStatus(488, "Not Acceptable Here", ErrNoAudio)
	}
	port := audio.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return o, withStatus(488, "Not Acceptable Here", fmt.Errorf("%w: port %d", ErrNoAudio, port))
	}

	ci := audio.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return o, withStatus(488, "Not Acceptable Here", ErrNoConnection)
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return o, withStatus(488, "Not Acceptable Here", fmt.Errorf("%w: %q", ErrNoConnection, ci.Address.Address))
	}
	o.addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))

	rtpmaps := map[int]string{} // pt -> "NAME/RATE", upper-cased
	for _, a := range audio.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		ptStr, enc, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		pt, err := strconv.Atoi(ptStr)
		if err != nil {
			continue
		}
		rtpmaps[pt] = strings.ToUpper(strings.TrimSpace(enc))
	}
	o.eventPT = -1
	for _, f := range audio.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil || pt < 0 || pt > 127 {
			continue
		}
		enc, mapped := rtpmaps[pt]
		switch {
		case o.codec == "" && (enc == "PCMU/8000" || enc == "PCMU/8000/1" || (!mapped && pt == ptPCMU)):
			o.codec, o.pt = CodecPCMU, uint8(pt)
		case o.codec == "" && (enc == "PCMA/8000" || enc == "PCMA/8000/1" || (!mapped && pt == ptPCMA)):
			o.codec, o.pt = CodecPCMA, uint8(pt)
		case o.eventPT < 0 && enc == "TELEPHONE-EVENT/8000":
			o.eventPT = pt
		}
	}
	if o.codec == "" {
		return o, withStatus(488, "Not Acceptable Here", ErrNoCodec)
	}

	o.direction = "sendrecv"
	for _, attrs := range [][]sdp.Attribute{sd.Attributes, audio.Attributes} {
		for _, a := range attrs {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				o.direction = a.Key
			case "rtcp-mux":
				o.rtcpMux = true
			}
		}
	}
	return o, nil
}

// answerDirection is the direction attribute answering offerDir (RFC 3264 §6.1).
func answerDirection(offerDir string) string {
	switch offerDir {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// buildAnswer writes the SDP answer (RFC 3264 §6.1): one audio stream with the
// chosen codec, telephone-event when offered, 20 ms packets.
func buildAnswer(o offer, host netip.Addr, port int, sessID, version uint64) ([]byte, error) {
	addrType := "IP4"
	if host.Is6() && !host.Is4In6() {
		addrType = "IP6"
	}
	hostStr := host.Unmap().String()
	formats := []string{strconv.Itoa(int(o.pt))}
	attrs := []sdp.Attribute{{Key: "rtpmap", Value: fmt.Sprintf("%d %s/8000", o.pt, o.codec)}}
	if o.eventPT >= 0 {
		formats = append(formats, strconv.Itoa(o.eventPT))
		attrs = append(attrs,
			sdp.Attribute{Key: "rtpmap", Value: fmt.Sprintf("%d telephone-event/8000", o.eventPT)},
			sdp.Attribute{Key: "fmtp", Value: fmt.Sprintf("%d 0-16", o.eventPT)},
		)
	}
	if o.rtcpMux {
		// RTCP shares the RTP port (RFC 5761 §5.1.1): the trunk's receiver
		// reports tell the caller its audio arrives.
		attrs = append(attrs, sdp.Attribute{Key: "rtcp-mux"})
	}
	attrs = append(attrs, sdp.Attribute{Key: "ptime", Value: "20"}, sdp.Attribute{Key: answerDirection(o.direction)})
	sd := sdp.SessionDescription{
		Origin: sdp.Origin{
			Username:       "-",
			SessionID:      sessID,
			SessionVersion: version,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: hostStr,
		},
		SessionName: "callbridge demo trunk",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &sdp.Address{Address: hostStr},
		},
		TimeDescriptions: []sdp.TimeDescription{{Timing: sdp.Timing{}}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{
				Media:   "audio",
				Port:    sdp.RangedPort{Value: port},
				Protos:  []string{"RTP", "AVP"},
				Formats: formats,
			},
			Attributes: attrs,
		}},
	}
	return sd.Marshal()
}

// udpAddr converts for net.PacketConn.WriteTo.
func udpAddr(ap netip.AddrPort) *net.UDPAddr { return net.UDPAddrFromAddrPort(ap) }
