package webhook

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsPublicIPEmbeddedIPv4(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true},
		{"2606:4700::1111", true},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::127.0.0.1", false}, // IPv4-compatible
		{"::10.1.2.3", false},
		{"::8.8.8.8", true},
		{"64:ff9b::127.0.0.1", false}, // NAT64 well-known prefix
		{"64:ff9b::7f00:1", false},
		{"64:ff9b::a9fe:a9fe", false}, // 169.254.169.254, the cloud metadata service
		{"64:ff9b::808:808", true},
		{"64:ff9b:1::1", false},        // local-use NAT64
		{"2002:7f00:1::1", false},      // 6to4 of 127.0.0.1
		{"2002:a00:1::1", false},       // 6to4 of 10.0.0.1
		{"2002:808:808::1", true},      // 6to4 of 8.8.8.8
		{"2001:0:4136:e378::1", false}, // Teredo
		{"::1", false},
		{"::", false},
	} {
		assert.Equal(t, tc.want, IsPublicIP(netip.MustParseAddr(tc.ip)), tc.ip)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://crm.example.com/hooks?token=s3cret&b=2": "https://crm.example.com/hooks?b=REDACTED&token=REDACTED",
		"https://user:pw@crm.example.com/h":              "https://user:REDACTED@crm.example.com/h",
		"https://crm.example.com/hooks":                  "https://crm.example.com/hooks",
		"https://crm.example.com/hooks#frag-secret":      "https://crm.example.com/hooks",
		"https://crm.example.com/h?%zz=1":                "https://crm.example.com/h?REDACTED",
	} {
		got := RedactURL(in)
		assert.Equal(t, want, got, in)
		assert.NotContains(t, got, "s3cret")
	}
}
