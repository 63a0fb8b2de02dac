package demotrunk

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawSIP is a bare UDP socket speaking hand-written SIP to the trunk.
type rawSIP struct {
	t     *testing.T
	conn  *net.UDPConn
	trunk netip.AddrPort
}

func newRawSIP(t *testing.T, trunk netip.AddrPort) *rawSIP {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &rawSIP{t: t, conn: conn, trunk: trunk}
}

func (r *rawSIP) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *rawSIP) send(msg string) {
	r.t.Helper()
	_, err := r.conn.WriteToUDPAddrPort([]byte(msg), r.trunk)
	require.NoError(r.t, err)
}

// final reads responses until a final one arrives; nil on timeout.
func (r *rawSIP) final(timeout time.Duration) *sip.Response {
	r.t.Helper()
	buf := make([]byte, 65535)
	deadline := time.Now().Add(timeout)
	for {
		_ = r.conn.SetReadDeadline(deadline)
		n, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil
		}
		msg, err := sip.ParseMessage(buf[:n])
		require.NoError(r.t, err)
		if res, ok := msg.(*sip.Response); ok && !res.IsProvisional() {
			return res
		}
	}
}

// request builds a SIP request from this socket; extra headers and body are appended.
func (r *rawSIP) request(method, user, toTag string, extra []string, body string) string {
	to := fmt.Sprintf("<sip:%s@%s>", user, r.trunk)
	if toTag != "" {
		to += ";tag=" + toTag
	}
	lines := []string{
		fmt.Sprintf("%s sip:%s@%s SIP/2.0", method, user, r.trunk),
		fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%d", r.port(), time.Now().UnixNano()),
		"Max-Forwards: 70",
		"From: <sip:+14155550100@127.0.0.1>;tag=raw1",
		"To: " + to,
		fmt.Sprintf("Call-ID: raw-%d@127.0.0.1", time.Now().UnixNano()),
		"CSeq: 1 " + method,
		fmt.Sprintf("Contact: <sip:raw@127.0.0.1:%d>", r.port()),
	}
	lines = append(lines, extra...)
	lines = append(lines, fmt.Sprintf("Content-Length: %d", len(body)), "", body)
	return strings.Join(lines, "\r\n")
}

func TestBadInput(t *testing.T) {
	const sdpOK = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
	tests := []struct {
		name   string
		method string
		user   string
		toTag  string
		extra  []string
		body   string
		want   int
	}{
		{name: "no SDP", method: "INVITE", user: NumberEcho, want: 400},
		{name: "garbage SDP", method: "INVITE", user: NumberEcho, extra: []string{"Content-Type: application/sdp"}, body: "hello there", want: 400},
		{name: "SDP without audio", method: "INVITE", user: NumberEcho, extra: []string{"Content-Type: application/sdp"},
			body: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 40000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n", want: 488},
		{name: "SDP without G.711", method: "INVITE", user: NumberEcho, extra: []string{"Content-Type: application/sdp"},
			body: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n", want: 488},
		{name: "SDP without c=", method: "INVITE", user: NumberEcho, extra: []string{"Content-Type: application/sdp"},
			body: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n", want: 488},
		{name: "not SDP", method: "INVITE", user: NumberEcho, extra: []string{"Content-Type: text/plain"}, body: "hi", want: 415},
		{name: "unknown number", method: "INVITE", user: "+15550100099", extra: []string{"Content-Type: application/sdp"}, body: sdpOK, want: 404},
		{name: "letters in number", method: "INVITE", user: "alice", extra: []string{"Content-Type: application/sdp"}, body: sdpOK, want: 404},
		{name: "BYE outside a dialog", method: "BYE", user: NumberEcho, toTag: "nope", want: 481},
		{name: "re-INVITE outside a dialog", method: "INVITE", user: NumberEcho, toTag: "nope",
			extra: []string{"Content-Type: application/sdp"}, body: sdpOK, want: 481},
		{name: "UPDATE outside a dialog", method: "UPDATE", user: NumberEcho, toTag: "nope", want: 481},
		{name: "CANCEL of nothing", method: "CANCEL", user: NumberEcho, want: 481},
		{name: "OPTIONS", method: "OPTIONS", user: NumberEcho, want: 200},
		{name: "REGISTER", method: "REGISTER", user: NumberEcho, want: 405},
	}
	_, addr := startTrunk(t, Options{})
	raw := newRawSIP(t, addr)

	// Garbage datagrams first: nothing to answer, but the trunk must survive them.
	for _, junk := range []string{"\x00\x01\x02garbage", "INVITE\r\n\r\n", "SIP/2.0 200 OK\r\n\r\n", strings.Repeat("A", 2000), "INVITE sip:x SIP/2.0\r\nVia: broken\r\n\r\n"} {
		raw.send(junk)
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw.send(raw.request(tt.method, tt.user, tt.toTag, tt.extra, tt.body))
			res := raw.final(3 * time.Second)
			require.NotNil(t, res, "no final response")
			assert.Equal(t, tt.want, res.StatusCode, res.StartLine())
			if tt.method == "OPTIONS" {
				assert.NotNil(t, res.GetHeader("Allow"))
			}
			if tt.want == 415 {
				require.NotNil(t, res.GetHeader("Accept"))
				assert.Equal(t, "application/sdp", res.GetHeader("Accept").Value())
			}
		})
	}
}
