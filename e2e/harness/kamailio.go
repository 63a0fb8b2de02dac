package harness

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// KamailioUser is one static digest user of the proxy.
type KamailioUser struct {
	Name     string
	Password string
}

// KamailioConfig describes one kamailio proxy, templated from
// e2e/kamailio/kamailio.cfg.tmpl.
type KamailioConfig struct {
	// NS is the namespace to run in; nil = root.
	NS *Netns
	// IP is the listen address; default 127.0.0.1.
	IP string
	// Port is the UDP SIP port; 0 = a free one.
	Port int
	// Users are the digest users (REGISTER with 401, INVITE with 407).
	Users []KamailioUser
	// FarEnd is the SIP URI authenticated INVITEs go to when the
	// Request-URI has no registered contact, e.g. "sip:127.0.0.1:5072".
	FarEnd string
	// Qop adds qop="auth" to the challenges (RFC 2617 §3.2.1).
	Qop bool
}

// Kamailio is a running kamailio.
type Kamailio struct {
	*Process
	Addr string // ip:port it listens on (UDP)
}

// StartKamailio starts kamailio as cfg says, waits for its port, and stops
// it in t.Cleanup.
func StartKamailio(t testing.TB, cfg KamailioConfig) *Kamailio {
	t.Helper()
	bin := LookPath(t, "kamailio")
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = FreeUDPPort(t)
	}
	if cfg.FarEnd == "" {
		cfg.FarEnd = "sip:127.0.0.1:9"
	}
	addr := net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port))
	qop := "0"
	if cfg.Qop {
		qop = "1"
	}
	dir := filepath.Join(t.TempDir(), "kamailio")
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	renderTemplate(t, filepath.Join(mustModuleRoot(t), "e2e", "kamailio", "kamailio.cfg.tmpl"), cfgPath, map[string]any{
		"Listen": addr, "Users": cfg.Users, "FarEnd": cfg.FarEnd, "Qop": qop,
	})
	p := startProcess(t, cfg.NS, "kamailio", dir, nil, bin,
		"-DD", "-E", "-f", cfgPath, "-P", filepath.Join(run, "kamailio.pid"),
		"-Y", run, "-w", run, "-m", "32", "-M", "4")
	if err := p.waitPort("udp", cfg.Port); err != nil {
		t.Fatal(err)
	}
	return &Kamailio{Process: p, Addr: addr}
}
