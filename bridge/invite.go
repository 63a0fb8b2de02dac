package bridge

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// inviteParams are the parts of an INVITE that stay the same across its
// retries (after 422) within one call: Call-ID, From tag, body.
type inviteParams struct {
	from, to  string
	callID    string
	fromTag   string
	cseq      uint32
	sdp       []byte
	se, minSE time.Duration // RFC 4028 Session-Expires and Min-SE; se 0 = no timer
	// target is the trunk of this attempt; nil = sip.trunk.
	target *trunkTarget
	// headerData feeds the trunk's identity and header templates.
	headerData TrunkHeaderData
}

// newInvite builds an initial INVITE (RFC 3261 §8.1.1): Request-URI and To
// are the destination at sip.domain, From is the seat's caller id. When
// sip.domain differs from the trunk's host, the trunk is an outbound proxy
// and is put in a preloaded Route (RFC 3261 §8.1.2) with lr.
func (b *Bridge) newInvite(p inviteParams) (*sip.Request, error) {
	trunk, transport, domain := b.trunk, b.transport, b.domain
	if t := p.target; t != nil {
		trunk, transport, domain = t.uri, t.transport, t.domain
	}
	recipient := sip.Uri{Scheme: "sip", User: p.to, Host: domain, UriParams: sip.NewParams()}
	proxied := !strings.EqualFold(domain, trunk.Host)
	if !proxied {
		recipient.Port = trunk.Port
	}
	if transport != "udp" {
		recipient.UriParams.Add("transport", transport)
	}
	req := sip.NewRequest(sip.INVITE, recipient)
	if proxied {
		route := sip.Uri{Scheme: "sip", Host: trunk.Host, Port: trunk.Port, UriParams: sip.NewParams()}
		if transport != "udp" {
			route.UriParams.Add("transport", transport)
		}
		route.UriParams.Add("lr", "")
		req.AppendHeader(sip.NewHeader("Route", "<"+route.String()+">"))
	}
	fromHdr := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.from, Host: b.domain}, Params: sip.NewParams()}
	fromHdr.Params.Add("tag", p.fromTag)
	req.AppendHeader(fromHdr)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: p.to, Host: domain}, Params: sip.NewParams()})
	callID := sip.CallIDHeader(p.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: p.cseq, MethodName: sip.INVITE})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("Allow", allowHeader))
	if p.se > 0 {
		// RFC 4028 §7.1: the UAS picks the refresher.
		req.AppendHeader(sip.NewHeader("Supported", "timer"))
		req.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(p.se/time.Second))))
		req.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(int(p.minSE/time.Second))))
	}
	req.SetBody(p.sdp)
	req.SetTransport(transport)
	if t := p.target; t != nil {
		// From host, user=phone, P-Asserted/Preferred-Identity, Privacy,
		// the trunk's extra headers.
		if err := t.identity.Apply(req, b.domain, p.headerData); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// sessionTimer is a negotiated RFC 4028 session interval.
type sessionTimer struct {
	interval  time.Duration
	refresher string // "uac" = the bridge refreshes, "uas" = the trunk does
}

// parseSessionExpires reads `Session-Expires: 1800;refresher=uac`
// (RFC 4028 §4). ok is false when the header is absent or malformed.
func parseSessionExpires(msg sip.Message) (sessionTimer, bool) {
	hs := msg.GetHeaders("Session-Expires")
	if len(hs) == 0 {
		hs = msg.GetHeaders("x") // compact form (RFC 4028 §4)
	}
	if len(hs) == 0 {
		return sessionTimer{}, false
	}
	h := hs[0]
	parts := strings.Split(h.Value(), ";")
	secs, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || secs <= 0 {
		return sessionTimer{}, false
	}
	st := sessionTimer{interval: time.Duration(secs) * time.Second}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "refresher") {
			st.refresher = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return st, true
}

// parseMinSE reads Min-SE (RFC 4028 §5) of a 422 response.
func parseMinSE(res *sip.Response) (time.Duration, error) {
	h := res.GetHeader("Min-SE")
	if h == nil {
		return 0, fmt.Errorf("422 without Min-SE")
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 || secs > 86400 {
		return 0, fmt.Errorf("422 with a bad Min-SE %q", h.Value())
	}
	return time.Duration(secs) * time.Second, nil
}
