package bridge

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
)

func testInvite() *sip.Request {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "+442079460000", Host: "sbc.carrier.example"})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "+442071838750", Host: "bridge.example", Port: 5070}, Params: sip.NewParams()}
	from.Params.Add("tag", "abc")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "+442079460000", Host: "sbc.carrier.example"}, Params: sip.NewParams()})
	return req
}

// header returns the value of the one header name in the INVITE's text
// (what goes on the wire), "" when absent.
func header(t *testing.T, wire, name string) string {
	t.Helper()
	var found []string
	for _, line := range strings.Split(wire, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			found = append(found, strings.TrimSpace(v))
		}
	}
	require.LessOrEqual(t, len(found), 1, "%s appears %d times", name, len(found))
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

func TestIdentityOnTheWire(t *testing.T) {
	data := TrunkHeaderData{Seat: "agent-42", CallerID: "+442071838750", To: "+442079460000", CallID: "c-1", Trunk: "b"}
	for _, tc := range []struct {
		name  string
		id    config.TrunkIdentity
		extra map[string]string
		want  map[string]string // header -> value; "" = absent
		line  string            // the request line
	}{
		{name: "none", want: map[string]string{
			"From": "<sip:+442071838750@sip.example>;tag=abc", "P-Asserted-Identity": "", "P-Preferred-Identity": "", "Privacy": "",
		}, line: "INVITE sip:+442079460000@sbc.carrier.example SIP/2.0"},
		{name: "pai, privacy id, from host, user=phone",
			id: config.TrunkIdentity{Header: "pai", Privacy: "id", FromHost: "carrier-b.example", UserPhone: true},
			want: map[string]string{
				"From":                 "<sip:+442071838750@carrier-b.example;user=phone>;tag=abc",
				"To":                   "<sip:+442079460000@sbc.carrier.example;user=phone>",
				"P-Asserted-Identity":  "<sip:+442071838750@carrier-b.example;user=phone>",
				"P-Preferred-Identity": "",
				"Privacy":              "id",
			}, line: "INVITE sip:+442079460000@sbc.carrier.example;user=phone SIP/2.0"},
		{name: "ppi, privacy none",
			id: config.TrunkIdentity{Header: "ppi", Privacy: "none"},
			want: map[string]string{
				"P-Preferred-Identity": "<sip:+442071838750@sip.example>",
				"P-Asserted-Identity":  "",
				"Privacy":              "none",
			}},
		{name: "templated headers", extra: map[string]string{"X-Account": "acct-{{.Seat}}", "X-Route": "{{.Trunk}}/{{.To}}"},
			want: map[string]string{"X-Account": "acct-agent-42", "X-Route": "b/+442079460000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := NewIdentity(config.Trunk{Name: "b", Identity: tc.id, Headers: tc.extra})
			require.NoError(t, err)
			req := testInvite()
			require.NoError(t, id.Apply(req, "sip.example", data))
			wire := req.String()
			for name, want := range tc.want {
				assert.Equal(t, want, header(t, wire, name), "%s in\n%s", name, wire)
			}
			if tc.line != "" {
				assert.Equal(t, tc.line, strings.SplitN(wire, "\r\n", 2)[0])
			}
			// What went on the wire parses back.
			_, err = sip.ParseMessage([]byte(wire))
			require.NoError(t, err)
		})
	}
}

func TestIdentityTemplateErrors(t *testing.T) {
	_, err := NewIdentity(config.Trunk{Name: "b", Headers: map[string]string{"X-A": "{{.Seat"}})
	require.ErrorContains(t, err, "headers.X-A")
	id, err := NewIdentity(config.Trunk{Name: "b", Headers: map[string]string{"X-A": "{{.Nope}}"}})
	require.NoError(t, err)
	require.ErrorContains(t, id.Apply(testInvite(), "sip.example", TrunkHeaderData{}), "headers.X-A")
	id, err = NewIdentity(config.Trunk{Name: "b", Headers: map[string]string{"X-A": "{{.Seat}}"}})
	require.NoError(t, err)
	require.ErrorContains(t, id.Apply(testInvite(), "sip.example", TrunkHeaderData{Seat: "a\r\nVia: evil"}), "line break")
}
