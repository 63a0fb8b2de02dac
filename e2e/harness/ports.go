package harness

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// tcpListen is the st column of /proc/net/tcp for a listening socket.
const tcpListen = "0A"

// Ports handed out by the Free* helpers come from a range below the
// kernel's ephemeral ports (ip_local_port_range, 32768 and up here), so a
// port the test has picked but not yet bound cannot be taken meanwhile by
// a socket some other code binds to port 0 (an httptest server, a pion
// agent). Each test binary starts at its own offset and walks on.
const (
	pickLow  = 21000
	pickHigh = 30000 // below the demo's RTP ports (31000-31999)
	// pickStride spaces the picks: peers use neighbours of the port they
	// are given (sipp's RTCP at media+1, baresip's TLS at SIP+1), so each
	// pick keeps a block of ports to itself.
	pickStride = 16
)

var pickNext atomic.Int64

func init() { pickNext.Store(int64(os.Getpid()*7919) % (pickHigh - pickLow) / pickStride) }

// pick returns a port of the range that bind says is free for proto.
func pick(t testing.TB, proto string) int {
	t.Helper()
	for range (pickHigh - pickLow) / pickStride {
		port := pickLow + int(pickNext.Add(1)%((pickHigh-pickLow)/pickStride))*pickStride
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		switch proto {
		case "udp":
			c, err := net.ListenPacket("udp4", addr)
			if err != nil {
				continue
			}
			c.Close()
		default:
			l, err := net.Listen("tcp4", addr)
			if err != nil {
				continue
			}
			l.Close()
		}
		return port
	}
	t.Fatalf("no free %s port on 127.0.0.1 in %d-%d", proto, pickLow, pickHigh)
	return 0
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	return pick(t, "udp")
}

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	return pick(t, "tcp")
}

// FreeUDPPortPair returns an even UDP port p such that p and p+1 were both
// free (RTP and RTCP, RFC 3550 §11).
func FreeUDPPortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		p := FreeUDPPort(t) &^ 1 // picks are multiples of pickStride: p+1 is in its block
		a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			continue
		}
		b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + 1})
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
	t.Fatal("no free even/odd UDP port pair on 127.0.0.1")
	return 0
}

// FreeUDPRange returns the low end of n consecutive UDP ports on 127.0.0.1
// that were all free, for peers configured with a port range.
func FreeUDPRange(t testing.TB, n int) int {
	t.Helper()
	for range 50 {
		lo := FreeUDPPort(t)
		if lo+n > 65535 {
			continue
		}
		ok := true
		for p := lo; p < lo+n && ok; p++ {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			pickNext.Add(int64(n/pickStride + 1)) // later picks start past the range
			return lo
		}
	}
	t.Fatalf("no %d consecutive free UDP ports on 127.0.0.1", n)
	return 0
}

// portBound reports whether proto/port is bound (for TCP: listening) in the
// network namespace of pid, read from /proc/<pid>/net/{proto,proto6}, which
// list every socket of that namespace.
func portBound(pid int, proto string, port int) (bool, error) {
	for _, file := range []string{proto, proto + "6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			return false, err
		}
		ok, err := scanSockets(f, proto, port)
		f.Close()
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// scanSockets scans the table format of /proc/net/{udp,tcp}[6]:
// "sl local_address rem_address st ...", addresses as HEXIP:HEXPORT.
func scanSockets(f *os.File, proto string, port int) (bool, error) {
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		if proto == "tcp" && fields[3] != tcpListen {
			continue
		}
		return true, nil
	}
	return false, sc.Err()
}
