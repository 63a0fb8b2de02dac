package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse: any file either parses or fails with ErrParse, and a parsed
// configuration validates without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte("http:\n  listen: 127.0.0.1:8080\n"))
	f.Add([]byte("seats:\n  - id: a\n    caller_ids: [\"+14155550100\"]\n    colour: red\n"))
	f.Add([]byte("sip: {rtp_ports: 1-2, ring_timeout: 5s, codecs: [g729]}\n"))
	f.Add([]byte("webhook: {template: '{{.ID}', secret: whsec_x, url: 'http://[::1]/h'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			require.ErrorIs(t, err, ErrParse)
			return
		}
		if err := c.Validate(); err != nil {
			require.ErrorIs(t, err, ErrInvalid)
		}
		c.SIP.ListenParts()
		c.SIP.RTPPortRange()
	})
}
