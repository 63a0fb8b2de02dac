package bridge

import (
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// newInvite builds the initial INVITE (RFC 3261 §8.1.1): Request-URI and
// To are the destination at the trunk, From is the seat's caller id.
func (b *Bridge) newInvite(from, to string, sdp []byte) *sip.Request {
	recipient := sip.Uri{Scheme: "sip", User: to, Host: b.trunk.Host, Port: b.trunk.Port, UriParams: sip.NewParams()}
	if b.transport != "udp" {
		recipient.UriParams.Add("transport", b.transport)
	}
	req := sip.NewRequest(sip.INVITE, recipient)
	fromHdr := &sip.FromHeader{
		Address: sip.Uri{Scheme: "sip", User: from, Host: b.domain},
		Params:  sip.NewParams(),
	}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(fromHdr)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: b.domain}, Params: sip.NewParams()})
	callID := sip.CallIDHeader(uuid.NewString())
	req.AppendHeader(&callID)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"))
	req.SetBody(sdp)
	req.SetTransport(b.transport)
	return req
}
