package bridge

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/media"
)

var offered = []media.Codec{media.CodecPCMU, media.CodecPCMA}

func TestSDPOffer(t *testing.T) {
	body := string(sdpOffer(42, netip.MustParseAddrPort("203.0.113.7:20000"), offered))
	assert.Contains(t, body, "c=IN IP4 203.0.113.7\r\n")
	assert.Contains(t, body, "m=audio 20000 RTP/AVP 0 8 101\r\n")
	assert.Contains(t, body, "a=rtpmap:101 telephone-event/8000\r\n")
	assert.Contains(t, body, "a=fmtp:101 0-16\r\n")
	// Our own offer parses as an answer of the same codecs.
	rm, err := parseAnswer([]byte(body), offered)
	require.NoError(t, err)
	assert.Equal(t, media.CodecPCMU, rm.Codec)
	assert.Equal(t, uint8(101), rm.DTMFType)
	assert.False(t, rm.PrivateAddr)
}

func TestParseAnswer(t *testing.T) {
	base := "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
	cases := []struct {
		name    string
		sdp     string
		codec   media.Codec
		dtmf    uint8
		dir     string
		private bool
		err     bool
	}{
		{"pcma only, static pt without rtpmap", base + "m=audio 4000 RTP/AVP 8\r\n", media.CodecPCMA, 0, "sendrecv", true, false},
		{"pcmu with dtmf 96", base + "m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\na=sendonly\r\n", media.CodecPCMU, 96, "sendonly", true, false},
		{"dynamic pt for pcmu", base + "m=audio 4000 RTP/AVP 100\r\na=rtpmap:100 PCMU/8000\r\n", media.Codec{Name: "PCMU", ClockRate: 8000, PayloadType: 100}, 0, "sendrecv", true, false},
		{"no common codec", base + "m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", media.Codec{}, 0, "", false, true},
		{"port zero", base + "m=audio 0 RTP/AVP 0\r\n", media.Codec{}, 0, "", false, true},
		{"video only", base + "m=video 4000 RTP/AVP 96\r\n", media.Codec{}, 0, "", false, true},
		{"garbage", "hello", media.Codec{}, 0, "", false, true},
		{"no connection line", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", media.Codec{}, 0, "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rm, err := parseAnswer([]byte(tc.sdp), offered)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.codec, rm.Codec)
			assert.Equal(t, tc.dtmf, rm.DTMFType)
			assert.Equal(t, tc.dir, rm.Direction)
			assert.Equal(t, tc.private, rm.PrivateAddr)
			assert.Equal(t, uint16(4000), rm.Addr.Port())
		})
	}
}

func TestSDPAnswerForHold(t *testing.T) {
	for offer, want := range map[string]string{"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive", "sendrecv": "sendrecv"} {
		body := string(sdpAnswerFor(1, netip.MustParseAddrPort("127.0.0.1:20000"), media.CodecPCMA, offer, 101, false))
		assert.True(t, strings.Contains(body, "a="+want+"\r\n"), "%s -> %s: %s", offer, want, body)
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n")
	f.Add("v=0\r\nm=audio 99999 RTP/AVP 300\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		rm, err := parseAnswer([]byte(s), offered)
		if err == nil && (rm.Codec.Name == "" || rm.Addr.Port() == 0) {
			t.Fatalf("accepted an answer without codec or port: %+v", rm)
		}
	})
}

func TestHoldFormsAndRTCPAttributes(t *testing.T) {
	base := "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n%s"
	cur := remoteMedia{Addr: netip.MustParseAddrPort("10.0.0.5:4000"), Codec: media.CodecPCMU, Direction: "sendrecv"}
	for _, tc := range []struct {
		name, ip string
		port     int
		attrs    string
		dir      string
		form     string
		addr     string
		rtcp     uint16
		mux      bool
	}{
		{"plain", "10.0.0.5", 4000, "a=rtcp:4001\r\n", "sendrecv", "", "10.0.0.5:4000", 4001, false},
		{"rtcp with address", "10.0.0.5", 4000, "a=rtcp:5005 IN IP4 10.0.0.5\r\na=rtcp-mux\r\n", "sendrecv", "", "10.0.0.5:4000", 5005, true},
		{"sendonly", "10.0.0.5", 4000, "a=sendonly\r\n", "sendonly", "a=sendonly", "10.0.0.5:4000", 0, false},
		{"recvonly", "10.0.0.5", 4000, "a=recvonly\r\n", "recvonly", "a=recvonly", "10.0.0.5:4000", 0, false},
		{"inactive", "10.0.0.5", 4000, "a=inactive\r\n", "inactive", "a=inactive", "10.0.0.5:4000", 0, false},
		{"c=0.0.0.0", "0.0.0.0", 4000, "", "sendonly", "c=0.0.0.0", "10.0.0.5:4000", 0, false},
		{"c=0.0.0.0 recvonly", "0.0.0.0", 4000, "a=recvonly\r\n", "inactive", "c=0.0.0.0", "10.0.0.5:4000", 0, false},
		{"port 0", "10.0.0.5", 0, "", "inactive", "port 0", "10.0.0.5:4000", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rm, err := parseReoffer([]byte(fmt.Sprintf(base, tc.ip, tc.port, tc.attrs)), offered, cur)
			require.NoError(t, err)
			assert.Equal(t, tc.dir, rm.Direction)
			assert.Equal(t, tc.form, rm.HoldForm)
			assert.Equal(t, tc.form != "", rm.Held())
			assert.Equal(t, tc.addr, rm.Addr.String())
			assert.Equal(t, tc.rtcp, rm.RTCPPort)
			assert.Equal(t, tc.mux, rm.RTCPMux)
			assert.Equal(t, media.CodecPCMU, rm.Codec)
		})
	}
	// Port 0 in the first answer is still no audio at all.
	_, err := parseAnswer([]byte(fmt.Sprintf(base, "10.0.0.5", 0, "")), offered)
	require.Error(t, err)
}

func TestSDPCarriesRTCP(t *testing.T) {
	offer := string(sdpOffer(1, netip.MustParseAddrPort("127.0.0.1:20000"), offered))
	assert.Contains(t, offer, "a=rtcp:20001\r\n")
	assert.Contains(t, offer, "a=rtcp-mux\r\n")
	mux := string(sdpAnswerFor(1, netip.MustParseAddrPort("127.0.0.1:20000"), media.CodecPCMU, "sendrecv", 0, true))
	assert.Contains(t, mux, "a=rtcp-mux\r\n")
	disabled := string(sdpAnswerFor(1, netip.MustParseAddrPort("127.0.0.1:0"), media.CodecPCMU, "inactive", 0, false))
	assert.Contains(t, disabled, "m=audio 0 RTP/AVP 0\r\n")
	assert.NotContains(t, disabled, "a=rtcp")
}

func FuzzParseReoffer(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:abc\r\n")
	f.Add("v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n")
	f.Add("v=0\r\nm=audio 0 RTP/AVP\r\n")
	cur := remoteMedia{Addr: netip.MustParseAddrPort("10.0.0.5:4000"), Codec: media.CodecPCMU, Direction: "sendrecv"}
	f.Fuzz(func(t *testing.T, s string) {
		rm, err := parseReoffer([]byte(s), offered, cur)
		if err == nil && (rm.Codec.Name == "" || !rm.Addr.IsValid() || rm.Addr.Addr().IsUnspecified() || rm.Addr.Port() == 0) {
			t.Fatalf("a re-offer left no codec or usable address: %+v", rm)
		}
	})
}
