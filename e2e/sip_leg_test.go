//go:build e2e

package e2e

// The bridge binary's SIP leg against sipp playing the carrier: one
// scenario of e2e/sipp per subtest (see e2e/sipp/README.md). The bridge is
// the caller, driven by a signaling client that streams a 1 kHz Opus tone.
// Each subtest asserts what sipp saw on the wire (its message trace: the
// ladder and the headers that matter) and what the agent and the CRM got
// (call_state and the call.completed webhook). TCP runs sipp too; TLS runs
// baresip, since Debian's sipp is built without TLS.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"

	"github.com/callbridge/callbridge/e2e/harness"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

// sippExit bounds the wait for a carrier scenario to finish after the call.
const sippExit = 20 * time.Second

// legConfig is the SIP part of a bridge configuration.
type legConfig struct {
	trunk  string            // sip.trunk
	listen string            // sip.listen; default UDP on a free 127.0.0.1 port
	sip    map[string]string // more sip.* keys, values in YAML
}

// legBridge is the bridge binary configured for one SIP leg scenario.
type legBridge struct {
	*testBridge
	sipPort int // the bridge's own SIP port
}

// startLegBridge runs the bridge with cfg's SIP settings, loopback ICE, a
// webhook receiver, and the trunk probe off unless cfg sets it.
func startLegBridge(t *testing.T, cfg legConfig) *legBridge {
	t.Helper()
	hooks := newWebhookSink(t, nil)
	sipPort := harness.FreeUDPPort(t)
	if cfg.listen == "" {
		cfg.listen = fmt.Sprintf("udp:127.0.0.1:%d", sipPort)
	} else {
		p, err := strconv.Atoi(cfg.listen[strings.LastIndex(cfg.listen, ":")+1:])
		require.NoError(t, err, cfg.listen)
		sipPort = p
	}
	sipKeys := map[string]string{"options_interval": "0s"}
	for k, v := range cfg.sip {
		sipKeys[k] = v
	}
	yaml := bridgeYAML(t, bridgeConfig{
		sipListen: cfg.listen, trunk: cfg.trunk, rtpPorts: 20, sip: sipKeys, hookURL: hooks.URL + "/hooks",
	})
	return &legBridge{
		testBridge: &testBridge{Bridge: harness.StartBridge(t, yaml), hooks: hooks},
		sipPort:    sipPort,
	}
}

// carrier is sipp running one scenario of e2e/sipp as the trunk.
type carrier struct {
	*harness.Sipp
	port      int    // its SIP port
	mediaPort int    // its -mp: RTP echo on this port and the next even one
	logPath   string // its -log_file (<log> lines of the scenario)
}

// startCarrier starts sipp with scenario (a file of e2e/sipp) for one call
// on 127.0.0.1. transport is sipp's -t ("u1", "t1"); "" = UDP.
func startCarrier(t *testing.T, scenario, transport string, args ...string) *carrier {
	t.Helper()
	port := harness.FreeUDPPort(t)
	lo := harness.FreeUDPRange(t, 5)
	mp := lo + lo%2
	logPath := filepath.Join(t.TempDir(), "carrier_logs.log")
	all := []string{"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mi", "127.0.0.1", "-mp", strconv.Itoa(mp),
		"-m", "1", "-timeout", "60s", "-trace_logs", "-log_file", logPath}
	if transport != "" && transport != "u1" {
		all = append(all, "-t", transport)
		// The harness waits for -p as a UDP port; a stream transport binds
		// only TCP. Holding the UDP port of the same number satisfies that
		// wait without clashing, and waitTCPListen waits for the real one.
		hold, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		require.NoError(t, err)
		defer hold.Close()
	}
	s := harness.StartSippWith(t, harness.SippConfig{
		Name:     "carrier",
		Scenario: filepath.Join("sipp", scenario),
		Args:     append(all, args...),
	})
	if transport != "" && transport != "u1" {
		waitTCPListen(t, s.Process, port)
	}
	return &carrier{Sipp: s, port: port, mediaPort: mp, logPath: logPath}
}

// uri is the carrier as sip.trunk; params such as ";transport=tcp" are appended.
func (c *carrier) uri(params string) string {
	return fmt.Sprintf("sip:127.0.0.1:%d%s", c.port, params)
}

// finish waits for sipp to end the scenario and requires that it passed:
// every expected message arrived and every check_it held.
func (c *carrier) finish(t *testing.T) []sippMsg {
	t.Helper()
	err := c.WaitExit(sippExit)
	msgs := c.trace(t)
	if err != nil {
		errLog, _ := os.ReadFile(filepath.Join(c.Dir, "carrier_errors.log"))
		t.Fatalf("sipp's scenario failed: %v\nladder: %v\nerrors: %s", err, ladder(msgs), errLog)
	}
	return msgs
}

// logs returns the scenario's <log> lines.
func (c *carrier) logs() string {
	b, _ := os.ReadFile(c.logPath)
	return string(b)
}

// sippMsg is one message of sipp's trace with the time sipp logged it.
type sippMsg struct {
	harness.SIPMessage
	At time.Time
}

var sippStamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+`)

// trace parses sipp's -trace_msg file like harness.ParseSippMessages,
// keeping each message's timestamp.
func (c *carrier) trace(t *testing.T) []sippMsg {
	t.Helper()
	b, err := os.ReadFile(c.MessagePath)
	require.NoError(t, err)
	var out []sippMsg
	for _, block := range strings.Split("\n"+string(b), "\n-----------------------------------------------") {
		first, _, _ := strings.Cut(block, "\n")
		msgs := harness.ParseSippMessages("\n-----------------------------------------------" + block)
		if len(msgs) != 1 {
			continue
		}
		at, _ := time.ParseInLocation("2006-01-02 15:04:05.000000", sippStamp.FindString(first), time.Local)
		out = append(out, sippMsg{SIPMessage: msgs[0], At: at})
	}
	return out
}

// waitMsg waits until sipp's trace has a message matching pred.
func (c *carrier) waitMsg(t *testing.T, what string, pred func(sippMsg) bool) sippMsg {
	t.Helper()
	deadline := time.Now().Add(callTimeout)
	for {
		msgs := c.trace(t)
		for _, m := range msgs {
			if pred(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipp never saw %s; ladder: %v", what, ladder(msgs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ladder is the SIP ladder as sipp saw it: "< INVITE" for a request sipp
// received, "> 200 INVITE" for a response it sent (with CSeq's method);
// retransmissions are left out.
func ladder(msgs []sippMsg) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range msgs {
		key := fmt.Sprint(m.Sent, m.Raw)
		if seen[key] {
			continue
		}
		seen[key] = true
		dir := "< "
		if m.Sent {
			dir = "> "
		}
		if method := m.Method(); method != "" {
			out = append(out, dir+method)
			continue
		}
		out = append(out, fmt.Sprintf("%s%d %s", dir, m.Status(), cseqMethod(m.SIPMessage)))
	}
	return out
}

func cseqMethod(m harness.SIPMessage) string {
	f := strings.Fields(m.Header("CSeq"))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

func cseqNum(m harness.SIPMessage) int {
	f := strings.Fields(m.Header("CSeq"))
	if len(f) == 0 {
		return -1
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// pick returns the messages sipp received (sent=false) or sent that are
// requests of method, or responses to it when status is not 0.
func pick(msgs []sippMsg, sent bool, method string, status int) []sippMsg {
	var out []sippMsg
	seen := map[string]bool{}
	for _, m := range msgs {
		if m.Sent != sent || seen[m.Raw] {
			continue
		}
		seen[m.Raw] = true
		switch {
		case status == 0 && m.Method() == method:
			out = append(out, m)
		case status != 0 && m.Status() == status && cseqMethod(m.SIPMessage) == method:
			out = append(out, m)
		}
	}
	return out
}

// headerValues returns every value of header name, comma lists split
// (RFC 3261 §7.3.1), in order.
func headerValues(m harness.SIPMessage, name string) []string {
	var out []string
	for _, line := range strings.Split(m.Raw, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		for _, part := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(part))
		}
	}
	return out
}

// param returns ;name=value of a header value ("" when absent).
func param(v, name string) string {
	for _, p := range strings.Split(v, ";")[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, name) {
			return strings.Trim(val, `"`)
		}
	}
	return ""
}

// body is the message body (after the blank line).
func body(m harness.SIPMessage) string {
	raw := strings.ReplaceAll(m.Raw, "\r\n", "\n")
	_, b, _ := strings.Cut(raw, "\n\n")
	return b
}

// sdpDirection is the session's a= direction attribute; none = sendrecv
// (RFC 4566 §6).
func sdpDirection(sdp string) string {
	for _, l := range strings.Split(sdp, "\n") {
		switch a := strings.TrimSpace(l); a {
		case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
			return strings.TrimPrefix(a, "a=")
		}
	}
	return "sendrecv"
}

// digestParams parses a Digest credentials header (RFC 2617 §3.2.2).
func digestParams(v string) map[string]string {
	out := map[string]string{}
	v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "Digest"))
	re := regexp.MustCompile(`([a-zA-Z]+)=("([^"]*)"|[^,\s]+)`)
	for _, m := range re.FindAllStringSubmatch(v, -1) {
		val := m[2]
		if strings.HasPrefix(val, `"`) {
			val = m[3]
		}
		out[strings.ToLower(m[1])] = val
	}
	return out
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// hangup sends the agent's hangup.
func hangup(t *testing.T, c *sigclient.Client, callID string) {
	t.Helper()
	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
}

// endCause is the cause of the final call_state, which must be ended.
func endCause(t *testing.T, states []sigclient.CallState) (code, q850 int, reason, by string) {
	t.Helper()
	require.NotEmpty(t, states)
	end := states[len(states)-1]
	require.Equal(t, "ended", end.State, "states: %v", stateNames(states))
	require.NotNil(t, end.Cause, "ended without a cause")
	return end.Cause.SIPCode, end.Cause.Q850, end.Cause.Reason, end.Cause.By
}

// hangupOf is the webhook's hangup object.
func hangupOf(t *testing.T, ev map[string]any) map[string]any {
	t.Helper()
	h, ok := ev["hangup"].(map[string]any)
	require.True(t, ok, "no hangup in %v", ev)
	return h
}

// waitTCPListen waits until port listens on TCP in p's namespace.
func waitTCPListen(t *testing.T, p *harness.Process, port int) {
	t.Helper()
	want := fmt.Sprintf(":%04X ", port)
	deadline := time.Now().Add(harness.ReadyTimeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", p.Pid()))
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1]+" ", want) && f[3] == "0A" {
				return
			}
		}
		if p.Exited() {
			t.Fatalf("%s exited before listening on TCP %d:\n%s", p.Name, port, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on TCP %d", p.Name, port)
}

// toneSource is a far phone's RTP endpoint: once RTP arrives it sends a
// PCMU tone back to the source every 20 ms (symmetric RTP, RFC 4961).
type toneSource struct {
	conn *net.UDPConn
	mu   sync.Mutex
	// received counts packets that arrived; guarded by mu.
	received int
}

func startToneSource(t *testing.T, hz float64) *toneSource {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	s := &toneSource{conn: conn}
	peer := make(chan *net.UDPAddr, 1)
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.received++
			first := s.received == 1
			s.mu.Unlock()
			if first {
				peer <- from
			}
		}
	}()
	go func() {
		var dst *net.UDPAddr
		select {
		case dst = <-peer:
		case <-done:
			return
		}
		hdr := rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x600600, SequenceNumber: 1, Timestamp: 160}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		n := 0
		buf := make([]byte, 12+160)
		for {
			h, _ := hdr.MarshalTo(buf)
			for i := range 160 {
				buf[h+i] = g711.EncodeUlawFrame(int16(0.5 * 32767 * sinAt(hz, n)))
				n++
			}
			if _, err := conn.WriteToUDP(buf, dst); err != nil {
				return
			}
			hdr.SequenceNumber++
			hdr.Timestamp += 160
			select {
			case <-tick.C:
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		conn.Close()
	})
	return s
}

// sinAt is sample n of a unit sine of hz at 8 kHz.
func sinAt(hz float64, n int) float64 { return math.Sin(2 * math.Pi * hz * float64(n) / 8000) }

func (s *toneSource) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

func (s *toneSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

// requireNoAudio asserts that the client decoded at most a trickle of audio
// (a packet or two in flight) and none of it a tone.
func requireNoAudio(t *testing.T, a harness.Audio, what string) {
	t.Helper()
	if a.Duration() < 0.1 {
		return
	}
	amp := harness.ToneAmplitude(a.Samples, a.Rate, clientHz)
	assert.Less(t, amp, toneMinAmplitude, "%s: %.2fs of audio with %g Hz at %.3f", what, a.Duration(), clientHz, amp)
}

// TestSIPLegAgainstSipp runs every carrier scenario of e2e/sipp against the
// bridge binary, in parallel (each subtest has its own bridge and sipp).
func TestSIPLegAgainstSipp(t *testing.T) {
	harness.BuildBridge(t)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"407 challenge", testLeg407},
		{"183 early media then 200 with new SDP", testLegEarlyMedia},
		{"486 busy", testLegBusy},
		{"no answer", testLegNoAnswer},
		{"BYE from far end", testLegFarEndBye},
		{"BYE from far end with Reason", testLegFarEndByeReason},
		{"re-INVITE hold and unhold", testLegHold},
		{"session timer, bridge refreshes with re-INVITE", func(t *testing.T) { sessionRefresh(t, false) }},
		{"session timer, bridge refreshes with UPDATE", func(t *testing.T) { sessionRefresh(t, true) }},
		{"session timer, carrier stops refreshing", testLegSessionExpires},
		{"422 then 200", testLeg422},
		{"UPDATE INFO OPTIONS in dialog", testLegInDialog},
		{"Record-Route with two hops", testLegRecordRoute},
		{"CANCEL and 200 cross", testLegCancelRace},
		{"481 for unknown dialogs", testLeg481},
		{"TCP", testLegTCP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t)
		})
	}
}

// testLeg407: the carrier challenges with 407 (qop=auth); the bridge ACKs
// the 407 on the INVITE's branch and retries with the seat's credentials,
// whose digest is recomputed here (RFC 2617 §3.2.2.1).
func testLeg407(t *testing.T) {
	car := startCarrier(t, "uas_407_challenge.xml", "", "-rtp_echo")
	b := startLegBridge(t, legConfig{trunk: car.uri("")})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "answered"}, stateNames(states))
	c.ResetReceived()
	sleepAudio()
	echo := received(c)
	hangup(t, c, callID)
	_, states = untilState(t, c, "ended")
	code, q850, _, by := endCause(t, states)
	assert.Equal(t, [3]any{200, 16, "agent"}, [3]any{code, q850, by})
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 407 INVITE", "< ACK", "< INVITE", "> 200 INVITE", "< ACK", "< BYE", "> 200 BYE"}, ladder(msgs))
	invites := pick(msgs, false, "INVITE", 0)
	acks := pick(msgs, false, "ACK", 0)
	require.Len(t, invites, 2)
	require.Len(t, acks, 2)
	first, retry := invites[0], invites[1]
	assert.Empty(t, first.Header("Proxy-Authorization"))
	assert.Equal(t, param(first.Header("Via"), "branch"), param(acks[0].Header("Via"), "branch"), "the 407's ACK is on the INVITE's branch (RFC 3261 §17.1.1.3)")
	assert.Equal(t, first.Header("Call-ID"), retry.Header("Call-ID"))
	assert.Equal(t, param(first.Header("From"), "tag"), param(retry.Header("From"), "tag"))
	assert.Equal(t, cseqNum(first.SIPMessage)+1, cseqNum(retry.SIPMessage), "the retry's CSeq is one higher (RFC 3261 §22.2)")

	d := digestParams(retry.Header("Proxy-Authorization"))
	assert.Equal(t, seatUser, d["username"])
	assert.Equal(t, "e2e.test", d["realm"])
	assert.Equal(t, "auth", d["qop"])
	ha1 := md5hex(seatUser + ":" + d["realm"] + ":" + seatPass)
	ha2 := md5hex("INVITE:" + d["uri"])
	want := md5hex(strings.Join([]string{ha1, d["nonce"], d["nc"], d["cnonce"], d["qop"], ha2}, ":"))
	assert.Equal(t, want, d["response"], "digest response of the seat's password (RFC 2617 §3.2.2.1): %v", d)
	assert.Contains(t, car.logs(), "Proxy-Authorization user="+seatUser)

	requireTone(t, echo, clientHz, farHz)
	ev := b.hooks.completed(t, callID)
	assert.Equal(t, "completed", ev["status"])
	assert.Equal(t, "agent", hangupOf(t, ev)["by"])
}

// testLegEarlyMedia: 183 with SDP plays early media (the carrier echoes the
// agent's tone); the 200 moves media to another address, where the
// answering phone plays 600 Hz: after the answer the agent must hear that
// phone, and the bridge's RTP must go there.
func testLegEarlyMedia(t *testing.T) {
	phone := startToneSource(t, farHz)
	car := startCarrier(t, "uas_183_then_200_new_sdp.xml", "", "-rtp_echo", "-set", "answer_port", strconv.Itoa(phone.port()))
	b := startLegBridge(t, legConfig{trunk: car.uri("")})
	c := b.client(t)

	callID, states := call(t, c, dialed, "early_media", nil)
	require.Equal(t, []string{"dialing", "early_media"}, stateNames(states))
	c.ResetReceived()
	_, states = untilState(t, c, "answered")
	require.Equal(t, []string{"answered"}, stateNames(states))
	early := received(c)
	c.ResetReceived()
	sleepAudio()
	answered := received(c)
	hangup(t, c, callID)
	_, states = untilState(t, c, "ended")
	_, _, _, by := endCause(t, states)
	assert.Equal(t, "agent", by)
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 183 INVITE", "> 200 INVITE", "< ACK", "< BYE", "> 200 BYE"}, ladder(msgs))
	t.Log("early media (the carrier echoes the agent's tone):")
	requireTone(t, early, clientHz, farHz)
	t.Log("after the 200 (the answering phone at the new address):")
	requireTone(t, answered, farHz, clientHz)
	assert.Greater(t, phone.count(), 50, "the bridge's RTP went to the 200's address")
	assert.Equal(t, "completed", b.hooks.completed(t, callID)["status"])
}

// testLegBusy: 180, then 486: ACKed, ended as busy (Q.850 17, RFC 3398).
func testLegBusy(t *testing.T) {
	car := startCarrier(t, "uas_486_busy.xml", "")
	b := startLegBridge(t, legConfig{trunk: car.uri("")})
	c := b.client(t)

	callID, states := call(t, c, dialed, "ended", nil)
	assert.Equal(t, []string{"dialing", "ringing", "ended"}, stateNames(states))
	code, q850, _, by := endCause(t, states)
	assert.Equal(t, [3]any{486, 17, "remote"}, [3]any{code, q850, by})
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 180 INVITE", "> 486 INVITE", "< ACK"}, ladder(msgs))
	inv, ack := pick(msgs, false, "INVITE", 0), pick(msgs, false, "ACK", 0)
	require.Len(t, ack, 1)
	assert.Equal(t, param(inv[0].Header("Via"), "branch"), param(ack[0].Header("Via"), "branch"), "the 486's ACK is on the INVITE's branch (RFC 3261 §17.1.1.3)")
	ev := b.hooks.completed(t, callID)
	assert.Equal(t, "busy", ev["status"])
	assert.EqualValues(t, 17, hangupOf(t, ev)["q850"])
}

// testLegNoAnswer: 180 and nothing more; after sip.ring_timeout (3 s) the
// bridge CANCELs (RFC 3261 §9.1), takes the 487, ACKs it, and reports
// no-answer (Q.850 19).
func testLegNoAnswer(t *testing.T) {
	car := startCarrier(t, "uas_no_answer.xml", "")
	b := startLegBridge(t, legConfig{trunk: car.uri(""), sip: map[string]string{"ring_timeout": "3s"}})
	c := b.client(t)

	callID, states := call(t, c, dialed, "ended", nil)
	assert.Equal(t, []string{"dialing", "ringing", "ended"}, stateNames(states))
	code, q850, _, by := endCause(t, states)
	assert.Equal(t, [3]any{487, 19, "bridge"}, [3]any{code, q850, by})
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 180 INVITE", "< CANCEL", "> 200 CANCEL", "> 487 INVITE", "< ACK"}, ladder(msgs))
	inv := pick(msgs, false, "INVITE", 0)[0]
	cancel := pick(msgs, false, "CANCEL", 0)[0]
	ack := pick(msgs, false, "ACK", 0)[0]
	assert.Equal(t, param(inv.Header("Via"), "branch"), param(cancel.Header("Via"), "branch"), "CANCEL is on the INVITE's branch (RFC 3261 §9.1)")
	assert.Equal(t, cseqNum(inv.SIPMessage), cseqNum(cancel.SIPMessage), "CANCEL has the INVITE's CSeq number")
	assert.Equal(t, param(inv.Header("Via"), "branch"), param(ack.Header("Via"), "branch"), "the 487's ACK is on the INVITE's branch")
	ringing := pick(msgs, true, "INVITE", 180)[0]
	assert.GreaterOrEqual(t, cancel.At.Sub(ringing.At), 2500*time.Millisecond, "CANCEL only after sip.ring_timeout")
	ev := b.hooks.completed(t, callID)
	assert.Equal(t, "no-answer", ev["status"])
	assert.EqualValues(t, 19, hangupOf(t, ev)["q850"])
}

// testLegFarEndBye: the carrier hangs up after 2 s; the bridge answers 200
// and reports who=remote, normal clearing.
func testLegFarEndBye(t *testing.T) {
	farEndBye(t, 0, 16)
}

// testLegFarEndByeReason: the carrier's BYE carries Reason: Q.850;cause=34
// (RFC 3326), which becomes the call's cause.
func testLegFarEndByeReason(t *testing.T) {
	farEndBye(t, 34, 34)
}

func farEndBye(t *testing.T, reasonCause, wantQ850 int) {
	args := []string{"-rtp_echo", "-set", "talk_ms", "2000"}
	if reasonCause != 0 {
		args = append(args, "-set", "reason_cause", strconv.Itoa(reasonCause))
	}
	car := startCarrier(t, "uas_bye_from_far_end.xml", "", args...)
	b := startLegBridge(t, legConfig{trunk: car.uri("")})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "ringing", "answered"}, stateNames(states))
	_, states = untilState(t, c, "ended")
	code, q850, reason, by := endCause(t, states)
	assert.Equal(t, "remote", by)
	assert.Equal(t, wantQ850, q850, "reason %q", reason)
	assert.Equal(t, 200, code)
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 180 INVITE", "> 200 INVITE", "< ACK", "> BYE", "< 200 BYE"}, ladder(msgs))
	bye := pick(msgs, true, "BYE", 0)[0]
	if reasonCause != 0 {
		assert.Equal(t, fmt.Sprintf("Q.850;cause=%d", reasonCause), bye.Header("Reason"))
		assert.Equal(t, "No circuit/channel available", reason, "the Q.850 name when the Reason has no text")
	} else {
		assert.Empty(t, bye.Header("Reason"))
	}
	ok := pick(msgs, false, "BYE", 200)[0]
	assert.Equal(t, bye.Header("Call-ID"), ok.Header("Call-ID"))
	ev := b.hooks.completed(t, callID)
	assert.Equal(t, "completed", ev["status"])
	h := hangupOf(t, ev)
	assert.Equal(t, "remote", h["by"])
	assert.EqualValues(t, wantQ850, h["q850"])
}

// testLegHold: the carrier holds the call with a sendonly re-INVITE for 4 s,
// twice sip.media_timeout, then resumes with sendrecv. The bridge answers
// recvonly (or inactive), then sendrecv; while held it sends no RTP (so the
// echoing carrier sends none either) and the call survives the gap.
func testLegHold(t *testing.T) {
	car := startCarrier(t, "uas_reinvite_hold_unhold.xml", "", "-rtp_echo", "-set", "hold_ms", "4000", "-set", "talk_ms", "2500")
	b := startLegBridge(t, legConfig{trunk: car.uri(""), sip: map[string]string{"media_timeout": "2s"}})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "answered"}, stateNames(states))
	isReinvite200 := func(cseq int) func(sippMsg) bool {
		return func(m sippMsg) bool {
			return !m.Sent && m.Status() == 200 && cseqMethod(m.SIPMessage) == "INVITE" && cseqNum(m.SIPMessage) == cseq
		}
	}
	car.waitMsg(t, "the hold's 200", isReinvite200(101))
	time.Sleep(300 * time.Millisecond) // packets in flight
	c.ResetReceived()
	time.Sleep(3 * time.Second)
	held := received(c)
	car.waitMsg(t, "the unhold's 200", isReinvite200(102))
	c.ResetReceived()
	time.Sleep(2 * time.Second)
	resumed := received(c)
	_, states = untilState(t, c, "ended")
	code, q850, reason, by := endCause(t, states)
	assert.Equal(t, [3]any{200, 16, "remote"}, [3]any{code, q850, by}, "the carrier's BYE ended the call, not a media timeout: %q", reason)
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 200 INVITE", "< ACK",
		"> INVITE", "< 200 INVITE", "> ACK", "> INVITE", "< 200 INVITE", "> ACK", "> BYE", "< 200 BYE"}, ladder(msgs))
	answers := pick(msgs, false, "INVITE", 200)
	require.Len(t, answers, 2)
	assert.Contains(t, []string{"recvonly", "inactive"}, sdpDirection(body(answers[0].SIPMessage)), "hold answer (RFC 3264 §6.1):\n%s", body(answers[0].SIPMessage))
	assert.Equal(t, "sendrecv", sdpDirection(body(answers[1].SIPMessage)), "unhold answer:\n%s", body(answers[1].SIPMessage))
	assert.Equal(t, "application/sdp", answers[0].Header("Content-Type"))
	assert.Contains(t, car.logs(), "hold answer: a=")

	requireNoAudio(t, held, "while held the bridge must not send RTP on the stream it answered recvonly, so the echo must be silent")
	requireTone(t, resumed, clientHz, farHz)
	ev := b.hooks.completed(t, callID)
	assert.Equal(t, "remote", hangupOf(t, ev)["by"])
}

// sessionRefresh: the carrier's 200 says Session-Expires: 3;
// refresher=uac, so the bridge refreshes every ~1.5 s (RFC 4028 §10); the
// scenario takes three refreshes, then hangs up, so the call outlived the
// session interval with the bridge as refresher. When the 200's Allow has
// UPDATE the refresh is an UPDATE without SDP, else a re-INVITE repeating
// the SDP (RFC 4028 §9).
func sessionRefresh(t *testing.T, allowUpdate bool) {
	allow, method := "INVITE,ACK,BYE,CANCEL,OPTIONS", "INVITE"
	if allowUpdate {
		allow, method = allow+",UPDATE", "UPDATE"
	}
	car := startCarrier(t, "uas_session_timer.xml", "", "-rtp_echo", "-set", "se", "3", "-set", "allow", allow)
	b := startLegBridge(t, legConfig{trunk: car.uri(""), sip: map[string]string{"session_expires": "4s", "min_se": "2s"}})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "answered"}, stateNames(states))
	_, states = untilState(t, c, "ended")
	code, q850, reason, by := endCause(t, states)
	assert.Equal(t, [3]any{200, 16, "remote"}, [3]any{code, q850, by}, "reason %q", reason)
	msgs := car.finish(t)

	lines := ladder(msgs)
	refresh := []string{"< " + method, "> 200 " + method}
	if method == "INVITE" {
		refresh = append(refresh, "< ACK")
	}
	want := []string{"< INVITE", "> 100 INVITE", "> 200 INVITE", "< ACK"}
	for range 3 {
		want = append(want, refresh...)
	}
	assert.Equal(t, append(want, "> BYE", "< 200 BYE"), lines)
	inv := pick(msgs, false, "INVITE", 0)
	require.NotEmpty(t, inv)
	assert.Contains(t, headerValues(inv[0].SIPMessage, "Supported"), "timer")
	assert.Equal(t, "4", inv[0].Header("Session-Expires"))
	assert.Equal(t, "2", inv[0].Header("Min-SE"))

	refreshes := pick(msgs, false, method, 0)
	if method == "INVITE" {
		refreshes = refreshes[1:]
	}
	require.Len(t, refreshes, 3, "three refreshes: %v", lines)
	last := pick(msgs, false, "ACK", 0)[0].At
	for i, r := range refreshes {
		assert.Equal(t, "3;refresher=uac", strings.ReplaceAll(r.Header("Session-Expires"), " ", ""), "refresh %d", i+1)
		assert.Less(t, r.At.Sub(last), 3*time.Second, "refresh %d before the session expired", i+1)
		if method == "INVITE" {
			assert.Equal(t, sdpOrigin(body(inv[0].SIPMessage)), sdpOrigin(body(r.SIPMessage)), "a refresh re-INVITE repeats the SDP with the same version (RFC 3264 §8)")
		} else {
			assert.Empty(t, strings.TrimSpace(body(r.SIPMessage)), "a refresh UPDATE has no SDP")
		}
		last = r.At
	}
	for i := 1; i <= 3; i++ {
		assert.Contains(t, car.logs(), fmt.Sprintf("session refresh %d", i))
	}
	bye := pick(msgs, true, "BYE", 0)
	require.Len(t, bye, 1)
	assert.Greater(t, bye[0].At.Sub(pick(msgs, false, "ACK", 0)[0].At), 3*time.Second, "the call outlived the session interval")
	assert.Equal(t, "completed", b.hooks.completed(t, callID)["status"])
}

// sdpOrigin is the o= line.
func sdpOrigin(sdp string) string {
	for _, l := range strings.Split(sdp, "\n") {
		if strings.HasPrefix(l, "o=") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// testLegSessionExpires: the carrier's 200 makes the carrier the refresher
// (Session-Expires: 3;refresher=uas) and it never refreshes; the bridge
// must not refresh and must BYE at the interval minus min(32 s,
// interval/3) = 2 s (RFC 4028 §10), ending the call with a session-timer
// cause.
func testLegSessionExpires(t *testing.T) {
	car := startCarrier(t, "uas_session_timer_no_refresh.xml", "", "-rtp_echo", "-set", "se", "3")
	b := startLegBridge(t, legConfig{trunk: car.uri(""), sip: map[string]string{"session_expires": "4s", "min_se": "2s"}})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "answered"}, stateNames(states))
	_, states = untilState(t, c, "ended")
	_, q850, reason, by := endCause(t, states)
	assert.Equal(t, "bridge", by)
	assert.Equal(t, 102, q850, "recovery on timer expiry")
	assert.Contains(t, strings.ToLower(reason), "session timer")
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 200 INVITE", "< ACK", "< BYE", "> 200 BYE"}, ladder(msgs))
	ack := pick(msgs, false, "ACK", 0)[0]
	bye := pick(msgs, false, "BYE", 0)[0]
	after := bye.At.Sub(ack.At)
	assert.GreaterOrEqual(t, after, 1500*time.Millisecond, "BYE not before interval - interval/3")
	assert.Less(t, after, 3*time.Second, "BYE before the session expired")
	ev := b.hooks.completed(t, callID)
	h := hangupOf(t, ev)
	assert.Equal(t, "bridge", h["by"])
	assert.EqualValues(t, 102, h["q850"])
}

// testLeg422: the carrier wants at least 6 s; the bridge asked for 4 s, so
// it gets 422 with Min-SE: 6 (RFC 4028 §6), ACKs it and retries with
// Session-Expires: 6 and Min-SE: 6 in a new transaction of the same call.
func testLeg422(t *testing.T) {
	car := startCarrier(t, "uas_422_min_se.xml", "", "-rtp_echo", "-set", "min_se", "6")
	b := startLegBridge(t, legConfig{trunk: car.uri(""), sip: map[string]string{"session_expires": "4s", "min_se": "2s"}})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "answered"}, stateNames(states))
	hangup(t, c, callID)
	_, states = untilState(t, c, "ended")
	_, _, _, by := endCause(t, states)
	assert.Equal(t, "agent", by)
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 422 INVITE", "< ACK", "< INVITE", "> 200 INVITE", "< ACK", "< BYE", "> 200 BYE"}, ladder(msgs))
	inv := pick(msgs, false, "INVITE", 0)
	require.Len(t, inv, 2)
	first, retry := inv[0], inv[1]
	assert.Equal(t, "4", first.Header("Session-Expires"))
	assert.Equal(t, "6", retry.Header("Session-Expires"), "retry with the carrier's Min-SE (RFC 4028 §7.4)")
	assert.Equal(t, "6", retry.Header("Min-SE"))
	assert.Equal(t, first.Header("Call-ID"), retry.Header("Call-ID"))
	assert.Equal(t, param(first.Header("From"), "tag"), param(retry.Header("From"), "tag"))
	assert.Greater(t, cseqNum(retry.SIPMessage), cseqNum(first.SIPMessage))
	assert.Empty(t, param(retry.Header("To"), "tag"), "the retry is a new initial INVITE")
	assert.NotEqual(t, param(first.Header("Via"), "branch"), param(retry.Header("Via"), "branch"))
	ack := pick(msgs, false, "ACK", 0)[0]
	assert.Equal(t, param(first.Header("Via"), "branch"), param(ack.Header("Via"), "branch"), "the 422's ACK is on the INVITE's branch")
	assert.Contains(t, car.logs(), "retry Session-Expires 6 Min-SE 6")
	assert.Equal(t, "completed", b.hooks.completed(t, callID)["status"])
}

// testLegInDialog: in the answered call the carrier sends UPDATE with an
// SDP offer (RFC 3311), INFO with a dtmf-relay digit (RFC 6086) and OPTIONS;
// each gets 200, the UPDATE's with an SDP answer, and the digit reaches the
// agent.
func testLegInDialog(t *testing.T) {
	car := startCarrier(t, "uas_update_info_options.xml", "", "-rtp_echo")
	b := startLegBridge(t, legConfig{trunk: car.uri("")})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "answered"}, stateNames(states))
	var digits []string
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	for {
		m, err := c.Next(ctx, "call_state", "dtmf")
		require.NoError(t, err, "waiting for the end of the call")
		if m.Type == "dtmf" {
			var d struct {
				CallID string `json:"call_id"`
				Digit  string `json:"digit"`
			}
			require.NoError(t, m.Decode(&d))
			assert.Equal(t, callID, d.CallID)
			digits = append(digits, d.Digit)
			continue
		}
		var cs sigclient.CallState
		require.NoError(t, m.Decode(&cs))
		states = append(states, cs)
		if cs.State == "ended" {
			break
		}
	}
	_, _, _, by := endCause(t, states)
	assert.Equal(t, "remote", by)
	assert.Equal(t, []string{"5"}, digits, "the INFO's digit")
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 200 INVITE", "< ACK",
		"> UPDATE", "< 200 UPDATE", "> INFO", "< 200 INFO", "> OPTIONS", "< 200 OPTIONS", "> BYE", "< 200 BYE"}, ladder(msgs))
	upd := pick(msgs, false, "UPDATE", 200)[0]
	assert.Equal(t, "application/sdp", upd.Header("Content-Type"))
	assert.Contains(t, body(upd.SIPMessage), "m=audio ")
	assert.Equal(t, "sendrecv", sdpDirection(body(upd.SIPMessage)))
	opt := pick(msgs, false, "OPTIONS", 200)[0]
	assert.Subset(t, headerValues(opt.SIPMessage, "Allow"), []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO"})
	assert.Contains(t, headerValues(opt.SIPMessage, "Supported"), "timer")
	assert.Equal(t, "completed", b.hooks.completed(t, callID)["status"])
}

// testLegRecordRoute: the 200 carries Record-Route for two proxies; ACK and
// BYE must carry the reversed route set and go to the first hop with the
// carrier's Contact as Request-URI (RFC 3261 §12.1.2, §16.12).
func testLegRecordRoute(t *testing.T) {
	car := startCarrier(t, "uas_record_route_two_hops.xml", "", "-rtp_echo")
	b := startLegBridge(t, legConfig{trunk: car.uri("")})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "answered"}, stateNames(states))
	time.Sleep(500 * time.Millisecond)
	hangup(t, c, callID)
	_, states = untilState(t, c, "ended")
	_, _, _, by := endCause(t, states)
	assert.Equal(t, "agent", by)
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 200 INVITE", "< ACK", "< BYE", "> 200 BYE"}, ladder(msgs))
	ok := pick(msgs, true, "INVITE", 200)[0]
	contact := strings.Trim(ok.Header("Contact"), "<>")
	wantRoute := []string{fmt.Sprintf("<sip:127.0.0.1:%d;lr>", car.port), "<sip:127.0.0.2:25099;lr>"}
	for _, m := range []sippMsg{pick(msgs, false, "ACK", 0)[0], pick(msgs, false, "BYE", 0)[0]} {
		assert.Equal(t, wantRoute, headerValues(m.SIPMessage, "Route"), "%s Route: the reversed Record-Route set", m.Method())
		assert.Equal(t, m.Method()+" "+contact+" SIP/2.0", m.StartLine, "%s Request-URI is the Contact", m.Method())
	}
	assert.Equal(t, "completed", b.hooks.completed(t, callID)["status"])
}

// testLegCancelRace: the agent hangs up while it rings; the carrier had
// already answered, so its 200 for the INVITE crosses the CANCEL. The
// bridge must ACK that 2xx and then BYE (RFC 3261 §9.1, §15).
func testLegCancelRace(t *testing.T) {
	car := startCarrier(t, "uas_cancel_200_race.xml", "")
	b := startLegBridge(t, legConfig{trunk: car.uri("")})
	c := b.client(t)

	callID, states := call(t, c, dialed, "ringing", nil)
	assert.Equal(t, []string{"dialing", "ringing"}, stateNames(states))
	hangup(t, c, callID)
	_, states = untilState(t, c, "ended")
	_, _, _, by := endCause(t, states)
	assert.Equal(t, "agent", by)
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 180 INVITE", "< CANCEL", "> 200 INVITE", "> 200 CANCEL", "< ACK", "< BYE", "> 200 BYE"}, ladder(msgs))
	inv := pick(msgs, false, "INVITE", 0)[0]
	ok := pick(msgs, true, "INVITE", 200)[0]
	ack := pick(msgs, false, "ACK", 0)[0]
	bye := pick(msgs, false, "BYE", 0)[0]
	assert.Equal(t, cseqNum(inv.SIPMessage), cseqNum(ack.SIPMessage), "the ACK is for the INVITE's 2xx")
	assert.Equal(t, param(ok.Header("To"), "tag"), param(ack.Header("To"), "tag"))
	assert.Equal(t, param(ok.Header("To"), "tag"), param(bye.Header("To"), "tag"), "BYE ends the dialog the 2xx made")
	assert.NotEqual(t, param(inv.Header("Via"), "branch"), param(ack.Header("Via"), "branch"), "a 2xx's ACK is its own transaction (RFC 3261 §13.2.2.4)")
	ev := b.hooks.completed(t, callID)
	assert.Equal(t, "agent", hangupOf(t, ev)["by"])
}

// testLeg481: sipp sends the bridge BYE, re-INVITE, UPDATE, INFO and OPTIONS
// for a dialog that does not exist, and a CANCEL of no transaction: each
// gets 481 (RFC 3261 §12.2.2, §9.2).
func testLeg481(t *testing.T) {
	b := startLegBridge(t, legConfig{trunk: "sip:127.0.0.1:9"})
	s := harness.StartSippWith(t, harness.SippConfig{
		Name:     "uac481",
		Scenario: filepath.Join("sipp", "uac_481_unknown_dialog.xml"),
		Args: []string{fmt.Sprintf("127.0.0.1:%d", b.sipPort), "-s", "+15550100001", "-i", "127.0.0.1",
			"-p", strconv.Itoa(harness.FreeUDPPort(t)), "-m", "1", "-timeout", "30s"},
	})
	err := s.WaitExit(sippExit)
	car := &carrier{Sipp: s}
	msgs := car.trace(t)
	require.NoError(t, err, "ladder: %v", ladder(msgs))
	got := ladder(msgs)
	var without100 []string
	for _, l := range got {
		if l != "< 100 INVITE" {
			without100 = append(without100, l)
		}
	}
	assert.Equal(t, []string{"> BYE", "< 481 BYE", "> INVITE", "< 481 INVITE", "> ACK", "> UPDATE", "< 481 UPDATE",
		"> INFO", "< 481 INFO", "> OPTIONS", "< 481 OPTIONS", "> CANCEL", "< 481 CANCEL"}, without100)
	assert.Zero(t, b.hooks.count(), "no call, no webhook")
}

// testLegTCP: the same far-end hang-up over TCP (sip.trunk ;transport=tcp,
// sip.listen tcp:): INVITE, ACK and the carrier's BYE all on TCP, audio
// both ways.
func testLegTCP(t *testing.T) {
	car := startCarrier(t, "uas_bye_from_far_end.xml", "t1", "-rtp_echo", "-set", "talk_ms", "3500")
	b := startLegBridge(t, legConfig{trunk: car.uri(";transport=tcp"), listen: fmt.Sprintf("tcp:127.0.0.1:%d", harness.FreeTCPPort(t))})
	c := b.client(t)

	callID, states := call(t, c, dialed, "answered", nil)
	assert.Equal(t, []string{"dialing", "ringing", "answered"}, stateNames(states))
	c.ResetReceived()
	time.Sleep(2500 * time.Millisecond)
	echo := received(c)
	_, states = untilState(t, c, "ended")
	_, q850, _, by := endCause(t, states)
	assert.Equal(t, "remote", by)
	assert.Equal(t, 16, q850)
	msgs := car.finish(t)

	assert.Equal(t, []string{"< INVITE", "> 100 INVITE", "> 180 INVITE", "> 200 INVITE", "< ACK", "> BYE", "< 200 BYE"}, ladder(msgs))
	for _, m := range []sippMsg{pick(msgs, false, "INVITE", 0)[0], pick(msgs, false, "ACK", 0)[0], pick(msgs, false, "BYE", 200)[0]} {
		// Transport tokens are case-insensitive (RFC 3261 §7.3.1, §25).
		assert.True(t, strings.HasPrefix(strings.ToUpper(m.Header("Via")), "SIP/2.0/TCP "), "%s Via: %s", m.StartLine, m.Header("Via"))
	}
	// In-dialog requests from the carrier go to the bridge's Contact: without
	// ;transport=tcp a carrier would send them over UDP (RFC 3263 §4.1).
	assert.Contains(t, strings.ToLower(pick(msgs, false, "INVITE", 0)[0].Header("Contact")), "transport=tcp", "the bridge's Contact on a TCP dialog")
	b2, _ := os.ReadFile(car.MessagePath)
	assert.NotContains(t, string(b2), "UDP message", "everything on TCP")
	requireTone(t, echo, clientHz, farHz)
	assert.Equal(t, "completed", b.hooks.completed(t, callID)["status"])
}

// count is how many verified webhook events arrived.
func (s *webhookSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}
