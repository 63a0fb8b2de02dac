package bridge

import (
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"

	"github.com/callbridge/callbridge/record"
)

func TestReasonQ850(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		cause  int
		text   string
		ok     bool
	}{
		{"q850 with text", []string{`Q.850 ;cause=16 ;text="Normal call clearing"`}, 16, "Normal call clearing", true},
		{"q850 without text", []string{`Q.850;cause=17`}, 17, "User busy", true},
		{"sip reason only", []string{`SIP ;cause=200 ;text="Call completed elsewhere"`}, 0, "", false},
		{"both protocols in one header", []string{`SIP;cause=600;text="Busy, everywhere", Q.850;cause=17`}, 17, "User busy", true},
		{"two headers", []string{`SIP;cause=487`, `Q.850;cause=31;text="Normal, unspecified"`}, 31, "Normal, unspecified", true},
		{"bad cause", []string{`Q.850;cause=abc`}, 0, "", false},
		{"out of range", []string{`Q.850;cause=999`}, 0, "", false},
		{"lower case protocol", []string{`q.850;cause=18`}, 18, "No user responding", true},
		{"none", nil, 0, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(sip.BYE, sip.Uri{Host: "example.com"})
			for _, v := range tc.values {
				req.AppendHeader(sip.NewHeader("Reason", v))
			}
			c, text, ok := ReasonQ850(req)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.cause, c)
			assert.Equal(t, tc.text, text)
		})
	}
}

func TestCauseFromResponse(t *testing.T) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Host: "example.com"})
	res := sip.NewResponseFromRequest(req, 486, "Busy Here", nil)
	c := causeFromResponse(res, record.ByRemote)
	assert.Equal(t, record.Cause{SIPCode: 486, Q850: 17, Reason: "Busy Here", By: record.ByRemote}, c)

	// A Q.850 Reason in the response wins over RFC 3398 (RFC 6432).
	res = sip.NewResponseFromRequest(req, 480, "Temporarily Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Reason", `Q.850;cause=19;text="No answer from user"`))
	c = causeFromResponse(res, record.ByRemote)
	assert.Equal(t, record.Cause{SIPCode: 480, Q850: 19, Reason: "No answer from user", By: record.ByRemote}, c)
}

func FuzzReasonQ850(f *testing.F) {
	for _, s := range []string{`Q.850;cause=16;text="x"`, `SIP;cause=200`, `Q.850;cause=`, `"`, `,,,;=`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := sip.NewRequest(sip.BYE, sip.Uri{Host: "example.com"})
		req.AppendHeader(sip.NewHeader("Reason", v))
		c, _, ok := ReasonQ850(req)
		if ok && (c <= 0 || c > 127) {
			t.Fatalf("cause %d out of range from %q", c, v)
		}
	})
}
