package harness

import (
	"context"
	"embed"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scenarios are the sipp scenarios the harness ships; StartSipp finds them
// by file name, e.g. "uac_tone.xml".
//
//go:embed sipp/*.xml
var scenarios embed.FS

// SippConfig describes one sipp run.
type SippConfig struct {
	// NS is the namespace to run in; nil = root.
	NS *Netns
	// Scenario is a built-in sipp scenario ("uas", "uac", ...), the file
	// name of a scenario shipped in e2e/harness/sipp ("uac_tone.xml",
	// "uas_auth.xml"), or a path to a scenario file.
	Scenario string
	// Args are sipp's other arguments: remote host, -s, -i, -p, -mi, -mp,
	// -m, -au/-ap, -d ... The harness adds -nostdin and message/error traces.
	Args []string
	// Files are copied into sipp's working directory: name -> source path
	// (e.g. "tone.wav" for uac_tone.xml's rtp_stream).
	Files map[string]string
	// Name names the process in logs; default "sipp".
	Name string
}

// Sipp is a running sipp. When Args has "-p PORT" the harness waited for
// that UDP port to be bound before returning.
type Sipp struct {
	*Process
	// MessagePath is sipp's -message_file: every SIP message sent and received.
	MessagePath string
}

// StartSipp starts sipp in the root namespace; see SippConfig.
func StartSipp(t testing.TB, scenario string, args ...string) *Sipp {
	t.Helper()
	return StartSippWith(t, SippConfig{Scenario: scenario, Args: args})
}

// StartSippWith starts sipp as cfg says and stops it in t.Cleanup.
func StartSippWith(t testing.TB, cfg SippConfig) *Sipp {
	t.Helper()
	bin := LookPath(t, "sipp")
	if cfg.Name == "" {
		cfg.Name = "sipp"
	}
	dir := filepath.Join(t.TempDir(), cfg.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range cfg.Files {
		if err := copyFile(src, filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s: %v", cfg.Name, err)
		}
	}
	var args []string
	switch {
	case strings.HasSuffix(cfg.Scenario, ".xml"):
		path := cfg.Scenario
		if b, err := scenarios.ReadFile("sipp/" + cfg.Scenario); err == nil {
			path = filepath.Join(dir, cfg.Scenario)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		args = append(args, "-sf", path)
	default:
		args = append(args, "-sn", cfg.Scenario)
	}
	msgPath := filepath.Join(dir, cfg.Name+"_messages.log")
	args = append(args, cfg.Args...)
	args = append(args, "-nostdin",
		"-trace_msg", "-message_file", msgPath,
		"-trace_err", "-error_file", filepath.Join(dir, cfg.Name+"_errors.log"))
	p := startProcess(t, cfg.NS, cfg.Name, dir, nil, bin, args...)
	s := &Sipp{Process: p, MessagePath: msgPath}
	t.Cleanup(func() { saveArtifact(t, msgPath) })
	if i := slices.Index(cfg.Args, "-p"); i >= 0 && i+1 < len(cfg.Args) {
		port, err := strconv.Atoi(cfg.Args[i+1])
		if err != nil {
			t.Fatalf("%s: -p %q: %v", cfg.Name, cfg.Args[i+1], err)
		}
		if err := p.waitPort("udp", port); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// WaitExit waits up to timeout for sipp to exit and returns its exit error:
// nil when every call succeeded (sipp's status 0).
func (s *Sipp) WaitExit(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Wait(ctx)
}

// SIPMessage is one message in sipp's message trace.
type SIPMessage struct {
	Sent      bool   // sent by sipp (false: received)
	StartLine string // "INVITE sip:…" or "SIP/2.0 407 Proxy Authentication Required"
	Raw       string // the whole message
}

// Method is the request method, or "" for a response.
func (m SIPMessage) Method() string {
	if strings.HasPrefix(m.StartLine, "SIP/2.0 ") {
		return ""
	}
	method, _, _ := strings.Cut(m.StartLine, " ")
	return method
}

// Status is the response code, or 0 for a request.
func (m SIPMessage) Status() int {
	rest, ok := strings.CutPrefix(m.StartLine, "SIP/2.0 ")
	if !ok {
		return 0
	}
	code, _, _ := strings.Cut(rest, " ")
	n, _ := strconv.Atoi(code)
	return n
}

// Header returns the first value of header name (case-insensitive), or "".
func (m SIPMessage) Header(name string) string {
	for _, line := range strings.Split(m.Raw, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break // end of headers (RFC 3261 §7)
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Messages parses sipp's message trace so far.
func (s *Sipp) Messages() []SIPMessage {
	b, _ := os.ReadFile(s.MessagePath)
	return ParseSippMessages(string(b))
}

// ParseSippMessages parses a sipp -trace_msg file: blocks that start with a
// dashed line, then "UDP message sent (N bytes):" or "UDP message received
// [N] bytes :", a blank line, and the message.
func ParseSippMessages(log string) []SIPMessage {
	var out []SIPMessage
	for _, block := range strings.Split(log, "\n-----------------------------------------------") {
		_, rest, ok := strings.Cut(block, "\n")
		if !ok {
			continue
		}
		head, body, ok := strings.Cut(rest, "\n")
		if !ok {
			continue
		}
		var sent bool
		switch {
		case strings.Contains(head, "message sent"):
			sent = true
		case strings.Contains(head, "message received"):
		default:
			continue
		}
		body = strings.TrimLeft(body, "\r\n")
		start, _, _ := strings.Cut(body, "\n")
		start = strings.TrimSpace(start)
		if start == "" {
			continue
		}
		out = append(out, SIPMessage{Sent: sent, StartLine: start, Raw: body})
	}
	return out
}

// StartLines lists the start lines of the messages, each prefixed with
// "> " (sent by sipp) or "< " (received), for asserting a SIP ladder.
func StartLines(msgs []SIPMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		dir := "< "
		if m.Sent {
			dir = "> "
		}
		out[i] = dir + m.StartLine
	}
	return out
}
