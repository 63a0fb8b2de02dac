package bridge_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/bridge/siptest"
)

// rawRequest sends one hand-made in-dialog request from a socket bound to
// fromIP and returns the status line of a response, or "" if none came.
func rawRequest(t *testing.T, fromIP, to, method, callID, fromTag, toTag, extra string) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(fromIP)})
	require.NoError(t, err)
	defer c.Close()
	local := c.LocalAddr().String()
	body := ""
	ct := ""
	if method == "INVITE" {
		body = "v=0\r\no=- 1 2 IN IP4 " + fromIP + "\r\ns=-\r\nc=IN IP4 " + fromIP + "\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		ct = "Content-Type: application/sdp\r\n"
	}
	toParams := ""
	if toTag != "" {
		toParams = ";tag=" + toTag
	}
	msg := fmt.Sprintf("%s sip:callbridge@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK%d\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:+15550100001@%s>;tag=%s\r\n"+
		"To: <sip:+14155550100@%s>%s\r\n"+
		"Call-ID: %s\r\nCSeq: 77 %s\r\nContact: <sip:evil@%s>\r\n%s%s"+
		"Content-Length: %d\r\n\r\n%s",
		method, to, local, time.Now().UnixNano(), fromIP, fromTag, fromIP, toParams, callID, method, local, ct, extra, len(body), body)
	ra, err := net.ResolveUDPAddr("udp", to)
	require.NoError(t, err)
	_, err = c.WriteToUDP([]byte(msg), ra)
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(400 * time.Millisecond))
	buf := make([]byte, 4096)
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

// Someone who learned a call's SIP Call-ID (it is in webhooks, the admin
// API and plain SIP) cannot end the call, move its audio or inject digits:
// not from another address with the dialog's real tags, not from the
// trunk's own IP with made-up tags.
func TestStrangerInDialogRequestsChangeNothing(t *testing.T) {
	uas := siptest.Start(t, siptest.Script{RTPPort: 30000})
	b := newBridge(t, uas, nil)
	st := newStates()
	digits := make(chan rune, 4)
	c := place(t, b, st, func(_ string, d rune) { digits <- d })
	st.wait(t, bridge.StateAnswered, 5*time.Second)
	info := c.Info()
	ack := uas.WaitRequests(sip.ACK, 1, 5*time.Second)[0]
	ourTag, _ := ack.From().Params.Get("tag")
	trunkTag, _ := ack.To().Params.Get("tag")
	_, bridgeAddr, _ := strings.Cut(b.Config().SIP.Listen, ":")
	remoteBefore := info.Media.Remote

	for _, tc := range []struct {
		name, from, fromTag, toTag string
		want                       string
	}{
		{"real tags from another address", "127.0.0.2", trunkTag, ourTag, ""},
		{"made-up tags from another address", "127.0.0.2", "evil1", "evil2", ""},
		{"made-up tags from the trunk's IP", "127.0.0.1", "evil1", ourTag, "SIP/2.0 481"},
		{"our tag missing from the trunk's IP", "127.0.0.1", trunkTag, "evil2", "SIP/2.0 481"},
	} {
		for _, method := range []string{"INVITE", "INFO", "BYE"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				extra := ""
				if method == "INFO" {
					extra = "Content-Type: application/dtmf-relay\r\n"
				}
				got := rawRequest(t, tc.from, bridgeAddr, method, info.SIPCallID, tc.fromTag, tc.toTag, extra)
				assert.True(t, strings.HasPrefix(got, tc.want), "response %q, want %q", got, tc.want)
			})
		}
	}
	assert.Equal(t, bridge.StateAnswered, c.State(), "the call is still up")
	after := c.Info()
	assert.Equal(t, remoteBefore, after.Media.Remote, "the audio did not move")
	assert.Equal(t, "sendrecv", after.Media.Direction)
	select {
	case d := <-digits:
		t.Fatalf("a stranger's digit %q reached the agent", d)
	default:
	}
	assert.Empty(t, uas.Requests(sip.BYE), "no BYE went to the trunk")

	// The trunk itself, in its dialog, still can.
	require.NoError(t, uas.Bye(info.SIPCallID, ""))
	end := st.wait(t, bridge.StateEnded, 5*time.Second)
	assert.Equal(t, "remote", end.Cause.By)
}

// Out-of-dialog requests from an address that is neither the trunk's nor
// allowed get no response at all (no reflection, nothing to learn); the
// trunk's own get their answers.
func TestUnknownSourcesGetNoResponse(t *testing.T) {
	uas := siptest.Start(t, siptest.Script{RTPPort: 30000})
	b := newBridge(t, uas, nil)
	_, bridgeAddr, _ := strings.Cut(b.Config().SIP.Listen, ":")
	for _, method := range []string{"OPTIONS", "INVITE", "BYE"} {
		assert.Empty(t, rawRequest(t, "127.0.0.2", bridgeAddr, method, "x-1", "a", "", ""), method)
	}
	assert.Equal(t, "SIP/2.0 200 OK", rawRequest(t, "127.0.0.1", bridgeAddr, "OPTIONS", "x-2", "a", "", ""))
}
