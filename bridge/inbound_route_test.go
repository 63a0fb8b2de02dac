package bridge

import (
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"

	"github.com/callbridge/callbridge/config"
)

func TestURIUser(t *testing.T) {
	for in, want := range map[string]string{
		`<sip:+14155550100@carrier.example;user=phone>;reason=unconditional`: "+14155550100",
		`"Sales" <sip:14155550100@10.0.0.1>;counter=1`:                       "14155550100",
		`<tel:+14155550100>`:                  "+14155550100",
		`<sips:+14155550100@carrier.example>`: "+14155550100",
		`sip:4155550100@carrier.example`:      "4155550100",
		`tel:+14155550100;phone-context=+1`:   "+14155550100",
		`<SIP:+14155550100@carrier.example>`:  "+14155550100",
		`<sip:carrier.example>`:               "carrier.example",
		``:                                    "",
		`<`:                                   "",
	} {
		assert.Equal(t, want, uriUser(in), "%q", in)
	}
}

// routeInbound reads the DID from where inbound.called_number says, in
// order; the first number that is a seat's DID wins.
func TestRouteInboundCalledNumberSources(t *testing.T) {
	const did = "+14155550100"
	seats := []config.Seat{{ID: "agent-7", CallerIDs: []string{did}, Country: "US"}}
	invite := func(ruri string, headers ...sip.Header) *sip.Request {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: ruri, Host: "bridge.example"})
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: ruri, Host: "bridge.example"}, Params: sip.NewParams()})
		for _, h := range headers {
			req.AppendHeader(h)
		}
		return req
	}
	diversion := sip.NewHeader("Diversion", `<sip:+14155550100@carrier.example>;reason=no-answer;counter=1`)
	pcalled := sip.NewHeader("P-Called-Party-ID", `"Sales line" <tel:4155550100>`)
	for _, tc := range []struct {
		name   string
		where  []string
		req    *sip.Request
		wantOK bool
	}{
		{"request URI, national form", []string{config.CalledRequestURI}, invite("4155550100"), true},
		{"forwarded call: Request-URI is the mobile, Diversion is the DID", []string{config.CalledRequestURI, config.CalledDiversion}, invite("+14155559999", diversion), true},
		{"Diversion not configured", []string{config.CalledRequestURI, config.CalledTo}, invite("+14155559999", diversion), false},
		{"P-Called-Party-ID", []string{config.CalledPCalled}, invite("+14155559999", pcalled), true},
		{"P-Called-Party-ID not configured", []string{config.CalledDiversion}, invite("+14155559999", pcalled), false},
		{"neither header present", []string{config.CalledDiversion, config.CalledPCalled}, invite(did), false},
		{"Diversion of another number", []string{config.CalledDiversion}, invite(did, sip.NewHeader("Diversion", `<sip:+14155550111@carrier.example>`)), false},
		{"Diversion that is not a number", []string{config.CalledDiversion}, invite(did, sip.NewHeader("Diversion", `garbage<<>>`)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Seats = seats
			cfg.Inbound.CalledNumber = tc.where
			b := &Bridge{cfg: cfg}
			got, seat, ok := b.routeInbound(tc.req)
			assert.Equal(t, tc.wantOK, ok)
			if tc.wantOK {
				assert.Equal(t, did, got)
				assert.Equal(t, "agent-7", seat.ID)
			}
		})
	}
}
