// Package connlimit caps the connections a listener hands out, in total and
// per source address, so that a flood of idle connections from a few
// addresses cannot exhaust the process's file descriptors while real
// clients still get in.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Refusal reasons passed to Options.OnRefuse.
const (
	ReasonTotal = "total"
	ReasonPerIP = "per_ip"
)

// Options are the caps of Listen; 0 = no cap.
type Options struct {
	// Max is the number of connections open at once.
	Max int
	// PerIP is the number of connections open at once from one address.
	PerIP int
	// OnRefuse, if set, is called for every connection closed at accept.
	OnRefuse func(reason string, remote netip.Addr)
}

// Listen wraps ln: a connection beyond a cap is closed as soon as it is
// accepted (the client sees a reset or EOF) and Accept goes on to the next
// one. A connection counts until it is closed.
func Listen(ln net.Listener, opts Options) *Listener {
	return &Listener{Listener: ln, opts: opts, perIP: map[netip.Addr]int{}}
}

// Listener is a net.Listener with connection caps.
type Listener struct {
	net.Listener
	opts Options

	mu    sync.Mutex
	total int                // guarded by mu
	perIP map[netip.Addr]int // guarded by mu
}

// Accept returns the next connection within the caps.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if reason := l.take(ip); reason != "" {
			_ = c.Close()
			if l.opts.OnRefuse != nil {
				l.opts.OnRefuse(reason, ip)
			}
			continue
		}
		return &conn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

// Open returns the connections open now, in total and from ip.
func (l *Listener) Open(ip netip.Addr) (total, fromIP int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.perIP[ip.Unmap()]
}

func (l *Listener) take(ip netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Max > 0 && l.total >= l.opts.Max {
		return ReasonTotal
	}
	if l.opts.PerIP > 0 && ip.IsValid() && l.perIP[ip] >= l.opts.PerIP {
		return ReasonPerIP
	}
	l.total++
	if ip.IsValid() {
		l.perIP[ip]++
	}
	return ""
}

func (l *Listener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if !ip.IsValid() {
		return
	}
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// remoteIP is the connection's source address, IPv4-mapped IPv6 unmapped;
// invalid for non-IP connections (pipes), which count only toward Max.
func remoteIP(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// conn releases its slot once, on the first Close.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
