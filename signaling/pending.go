package signaling

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// pendingSockets counts WebSockets that are upgraded but not yet past
// hello or resume, in total and per source address: before hello a socket
// costs the bridge a goroutine and a descriptor and proves nothing.
type pendingSockets struct {
	max, perIP int // 0 = no cap

	mu    sync.Mutex
	total int                // guarded by mu
	byIP  map[netip.Addr]int // guarded by mu
}

// take reserves a slot for a socket from remote; the HTTP status to refuse
// it with when a cap is reached, else 0 and a release func to call once.
func (p *pendingSockets) take(remote string) (status int, release func()) {
	ip := sourceIP(remote)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max > 0 && p.total >= p.max {
		return http.StatusServiceUnavailable, nil
	}
	if p.perIP > 0 && ip.IsValid() && p.byIP[ip] >= p.perIP {
		return http.StatusTooManyRequests, nil
	}
	if p.byIP == nil {
		p.byIP = map[netip.Addr]int{}
	}
	p.total++
	p.byIP[ip]++
	var once sync.Once
	return 0, func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.total--
			if p.byIP[ip]--; p.byIP[ip] <= 0 {
				delete(p.byIP, ip)
			}
		})
	}
}

// sourceIP is the address part of an http.Request's RemoteAddr.
func sourceIP(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}
