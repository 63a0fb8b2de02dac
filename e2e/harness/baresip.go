package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

// BaresipConfig describes one baresip instance, templated from
// e2e/baresip/config.tmpl and accounts.tmpl.
type BaresipConfig struct {
	// NS is the namespace to run in; nil = root.
	NS *Netns
	// Name names the process in logs; default "baresip".
	Name string
	// IP is the address for SIP and RTP; default 127.0.0.1.
	IP string
	// SIPPort is the UDP SIP port; 0 = a free one.
	SIPPort int
	// AudioSource is the WAV played into every call (absolute path); default
	// a 30 s 600 Hz tone at 48 kHz. It must outlast the call.
	AudioSource string
	// User is the account user of the default account; default "far".
	User string
	// Accounts replace the default account line
	// "<sip:USER@IP:PORT>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA,opus/48000/2".
	// The Request-URI user of an incoming call must match an account.
	Accounts []string
	// Extra is appended to the config file.
	Extra string
}

// Baresip is a running baresip.
type Baresip struct {
	*Process
	SIPAddr   string // ip:port of its SIP UDP socket
	URI       string // sip:USER@SIPAddr of the default account
	CtrlAddr  string // ip:port of ctrl_tcp (in its namespace)
	RecordDir string // sndfile's snd_path
	ns        *Netns
}

// StartBaresip starts baresip as cfg says, waits for its SIP port, and
// stops it in t.Cleanup.
func StartBaresip(t testing.TB, cfg BaresipConfig) *Baresip {
	t.Helper()
	bin := LookPath(t, "baresip")
	if cfg.Name == "" {
		cfg.Name = "baresip"
	}
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.SIPPort == 0 {
		cfg.SIPPort = FreeUDPPort(t)
	}
	if cfg.User == "" {
		cfg.User = "far"
	}
	if cfg.AudioSource == "" {
		cfg.AudioSource = MakeToneWAV(t, 600, 30, 48000)
	}
	src, err := ReadWAV(cfg.AudioSource)
	if err != nil {
		t.Fatalf("%s: audio source: %v", cfg.Name, err)
	}
	sipAddr := net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.SIPPort))
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = []string{fmt.Sprintf("<sip:%s@%s>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA,opus/48000/2", cfg.User, sipAddr)}
	}
	dir := filepath.Join(t.TempDir(), cfg.Name)
	cfgDir := filepath.Join(dir, "config")
	recDir := filepath.Join(dir, "rec")
	for _, d := range []string{cfgDir, recDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rtpLow := FreeUDPRange(t, 20)
	vars := map[string]any{
		"SIPAddr":     sipAddr,
		"AudioSource": cfg.AudioSource,
		"SourceRate":  src.Rate,
		"RTPLow":      rtpLow,
		"RTPHigh":     rtpLow + 19,
		"IP":          cfg.IP,
		"CtrlAddr":    net.JoinHostPort("127.0.0.1", strconv.Itoa(FreeTCPPort(t))),
		"RecordDir":   recDir,
		"Extra":       cfg.Extra,
		"Accounts":    cfg.Accounts,
	}
	root := mustModuleRoot(t)
	for _, f := range []string{"config", "accounts"} {
		renderTemplate(t, filepath.Join(root, "e2e", "baresip", f+".tmpl"), filepath.Join(cfgDir, f), vars)
	}
	p := startProcess(t, cfg.NS, cfg.Name, dir, nil, bin, "-f", cfgDir)
	if err := p.waitPort("udp", cfg.SIPPort); err != nil {
		t.Fatal(err)
	}
	_, ctrlPort, _ := net.SplitHostPort(vars["CtrlAddr"].(string))
	if port, _ := strconv.Atoi(ctrlPort); port != 0 {
		if err := p.waitPort("tcp", port); err != nil { // ctrl_tcp binds after SIP
			t.Fatal(err)
		}
	}
	return &Baresip{
		Process:   p,
		SIPAddr:   sipAddr,
		URI:       "sip:" + cfg.User + "@" + sipAddr,
		CtrlAddr:  vars["CtrlAddr"].(string),
		RecordDir: recDir,
		ns:        cfg.NS,
	}
}

func renderTemplate(t testing.TB, src, dst string, vars any) {
	t.Helper()
	tmpl, err := template.ParseFiles(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tmpl.Execute(f, vars); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	saveArtifact(t, dst)
}

// Recordings lists sndfile's recordings so far: dec (what baresip
// received) and enc (what it sent), oldest first.
func (b *Baresip) Recordings() (dec, enc []string) {
	entries, _ := os.ReadDir(b.RecordDir)
	for _, e := range entries {
		p := filepath.Join(b.RecordDir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), "-dec.wav"):
			dec = append(dec, p)
		case strings.HasSuffix(e.Name(), "-enc.wav"):
			enc = append(enc, p)
		}
	}
	sort.Strings(dec)
	sort.Strings(enc)
	return dec, enc
}

// ReceivedAudio stops baresip (so sndfile finalizes its files) and returns
// what it received in its last call (the newest -dec.wav).
func (b *Baresip) ReceivedAudio(t testing.TB) Audio {
	t.Helper()
	b.Stop()
	dec, _ := b.Recordings()
	if len(dec) == 0 {
		t.Fatalf("%s recorded nothing in %s", b.Name, b.RecordDir)
	}
	for _, d := range dec {
		saveArtifact(t, d)
	}
	a, err := ReadWAV(dec[len(dec)-1])
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Command sends one ctrl_tcp command (netstring-framed JSON, e.g. "dial"
// with params "sip:…", or "hangup") and returns the response's data field.
func (b *Baresip) Command(ctx context.Context, command, params string) (string, error) {
	conn, err := b.ns.DialContext(ctx, "tcp", b.CtrlAddr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	msg, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": "e2e"})
	if _, err := fmt.Fprintf(conn, "%d:%s,", len(msg), msg); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	for {
		body, err := readNetstring(r)
		if err != nil {
			return "", fmt.Errorf("baresip ctrl %s: %w", command, err)
		}
		var reply struct {
			Response bool   `json:"response"`
			OK       bool   `json:"ok"`
			Data     string `json:"data"`
		}
		if err := json.Unmarshal(body, &reply); err != nil {
			return "", fmt.Errorf("baresip ctrl %s: %w", command, err)
		}
		if !reply.Response {
			continue // an event
		}
		if !reply.OK {
			return reply.Data, fmt.Errorf("baresip ctrl %s %q failed: %s", command, params, reply.Data)
		}
		return reply.Data, nil
	}
}

// readNetstring reads "LEN:BODY," (a netstring), LEN at most 1 MiB.
func readNetstring(r *bufio.Reader) ([]byte, error) {
	lenStr, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(lenStr, ":")))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("bad netstring length %q", lenStr)
	}
	body := make([]byte, n+1)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	if body[n] != ',' {
		return nil, fmt.Errorf("netstring not terminated by ','")
	}
	return body[:n], nil
}
