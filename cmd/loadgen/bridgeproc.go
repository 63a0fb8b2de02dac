package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// bridgeProc is a bridge binary the load generator started, configured
// to call the generator's far end.
type bridgeProc struct {
	cmd        *exec.Cmd
	dir        string
	httpAddr   string
	secret     []byte
	adminToken string
	done       chan struct{}
	waitErr    error
}

// bridgeOptions are the parts of the bridge's configuration a run varies.
type bridgeOptions struct {
	bin      string
	seats    int
	trunk    string // host:port of the far end
	rtpPorts string
	udpPort  int // webrtc.udp_port (0 = a port per peer connection)
	logLevel string
	env      []string // extra environment, e.g. GOGC=200
	dsn      string   // store DSN; "" = SQLite in the run's directory
	// admission keeps the bridge's admission control on (overload runs);
	// capacity runs turn it off to see where the bridge itself breaks.
	admission bool
}

func freePort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
}

// seatID and callerID name seat i of a run.
func seatID(i int) string   { return fmt.Sprintf("load-%04d", i) }
func callerID(i int) string { return fmt.Sprintf("+1415%07d", 5550000+i) }

func startBridge(ctx context.Context, o bridgeOptions) (*bridgeProc, error) {
	bin, err := exec.LookPath(o.bin)
	if err != nil {
		return nil, err
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "loadgen-bridge-")
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	sipPort, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 48)
	_, _ = rand.Read(raw)
	secret := []byte(base64.StdEncoding.EncodeToString(raw)) // the key is the string as written
	admin := make([]byte, 24)
	_, _ = rand.Read(admin)
	adminToken := base64.RawURLEncoding.EncodeToString(admin)
	seats := make([]map[string]any, o.seats)
	for i := range seats {
		seats[i] = map[string]any{"id": seatID(i), "caller_ids": []string{callerID(i)}, "country": "US"}
	}
	dsn := o.dsn
	if dsn == "" {
		dsn = "sqlite://" + filepath.Join(dir, "bridge.db")
	}
	cfg := map[string]any{
		"http":   map[string]any{"listen": fmt.Sprintf("127.0.0.1:%d", httpPort), "max_connections_per_ip": 0, "max_pending_websockets_per_ip": 0},
		"auth":   map[string]any{"token_secret": string(secret), "admin_token": adminToken},
		"sip":    map[string]any{"listen": fmt.Sprintf("udp:127.0.0.1:%d", sipPort), "trunk": "sip:" + o.trunk, "rtp_ports": o.rtpPorts},
		"webrtc": map[string]any{"ice_interfaces": []string{"127.0.0.1"}, "udp_port": o.udpPort, "allow_local_candidates": true},
		// Every call comes from one address and the test numbers are the
		// fictional 555-01xx: lift the per-address, per-seat and number-type
		// guards that protect a real deployment (SECURITY.md).
		"dialing": map[string]any{"allowed_number_types": []string{"unknown"}, "calls_per_minute": 0},
		"limits":  map[string]any{"sessions_per_seat": 0},
		"seats":   seats,
		"store":   map[string]any{"dsn": dsn},
		"log":     map[string]any{"level": o.logLevel},
	}
	if !o.admission {
		cfg["admission"] = map[string]any{"max_cpu_percent": 0, "max_sched_lag": "0s"}
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(path, y, 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "bridge.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config", path)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), o.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the generator
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &bridgeProc{cmd: cmd, dir: dir, httpAddr: fmt.Sprintf("127.0.0.1:%d", httpPort), secret: secret, adminToken: adminToken, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	// Ready when /metrics answers.
	for {
		res, err := http.Get(p.metricsURL())
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(dir, "bridge.log"))
			return nil, fmt.Errorf("bridge exited: %v\n%s", p.waitErr, log)
		case <-ctx.Done():
			p.stop()
			return nil, fmt.Errorf("bridge not ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *bridgeProc) pid() int           { return p.cmd.Process.Pid }
func (p *bridgeProc) wsURL() string      { return "ws://" + p.httpAddr + "/v1/ws" }
func (p *bridgeProc) metricsURL() string { return "http://" + p.httpAddr + "/metrics" }

// stop ends the bridge (SIGTERM, then SIGKILL after 10 s) and removes its
// directory unless keep is set.
func (p *bridgeProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
