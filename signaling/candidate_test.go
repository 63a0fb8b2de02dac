package signaling

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/callbridge/callbridge/config"
)

// ownAddress is a non-loopback address of this host, if it has one.
func ownAddress(t *testing.T) (netip.Addr, bool) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && !ip.Unmap().IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

func TestCandidatePolicy(t *testing.T) {
	cand := func(addr string) string { return fmt.Sprintf("candidate:1 1 udp 2130706431 %s 5000 typ host", addr) }
	prod := NewCandidatePolicy(config.WebRTC{NAT1To1IPs: []string{"203.0.113.10"}})
	loopbackOnly := NewCandidatePolicy(config.WebRTC{ICEInterfaces: []string{"127.0.0.1"}})
	local := NewCandidatePolicy(config.WebRTC{AllowLocalCandidates: true})
	for _, tc := range []struct {
		name   string
		policy *CandidatePolicy
		addr   string
		ok     bool
	}{
		{"public", prod, "198.51.100.7", true},
		{"private LAN", prod, "10.1.2.3", true},
		{"mDNS name", prod, "3f2a9b1c-7d4e-4f00-9a4b-0d1e2f3a4b5c.local", true},
		{"loopback", prod, "127.0.0.1", false},
		{"loopback v6", prod, "::1", false},
		{"IPv4-mapped loopback", prod, "::ffff:127.0.0.1", false},
		{"link-local", prod, "169.254.169.254", false},
		{"link-local v6", prod, "fe80::1", false},
		{"multicast", prod, "239.1.2.3", false},
		{"unspecified", prod, "0.0.0.0", false},
		{"host name", prod, "metadata.internal", false},
		{"own NAT address", prod, "203.0.113.10", false},
		{"loopback with loopback-only ICE", loopbackOnly, "127.0.0.1", true},
		{"link-local with loopback-only ICE", loopbackOnly, "169.254.1.1", false},
		{"loopback with allow_local_candidates", local, "127.0.0.5", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Check(cand(tc.addr))
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
	if own, ok := ownAddress(t); ok {
		assert.Error(t, prod.Check(cand(own.String())), "the bridge host's own address %s", own)
		assert.NoError(t, local.Check(cand(own.String())))
	}
	var none *CandidatePolicy
	assert.NoError(t, none.Check(cand("127.0.0.1")), "no policy: anything")
	assert.Error(t, prod.Check("candidate:garbage"))
}

// FuzzCandidatePolicy: any candidate string from a client gets a verdict,
// never a panic, and an accepted one parses to an address the policy allows.
func FuzzCandidatePolicy(f *testing.F) {
	f.Add("candidate:1 1 udp 2130706431 198.51.100.7 5000 typ host")
	f.Add("candidate:1 1 udp 2130706431 fe80::1 5000 typ host")
	f.Add("candidate:842163049 1 udp 1677729535 203.0.113.5 61234 typ srflx raddr 0.0.0.0 rport 0 generation 0")
	f.Add("a=candidate:1 1 tcp 1518280447 ::ffff:127.0.0.1 9 typ host tcptype active")
	f.Add("candidate:1 1 udp 1 x.local 1 typ host")
	f.Add("")
	p := NewCandidatePolicy(config.WebRTC{})
	f.Fuzz(func(t *testing.T, cand string) {
		_ = p.Check(cand)
	})
}
