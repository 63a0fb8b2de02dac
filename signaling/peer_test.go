package signaling

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
)

// chromiumOffer is Chromium 156's audio offer after getUserMedia.
const chromiumOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:ZrsS\r\na=ice-pwd:ahjWtNt1Ww4SoccVIsmzkTT+\r\na=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 34:31:C1:CB:94:AC:BE:A4:7C:FD:25:61:03:C3:C8:C8:49:E3:44:5D:91:02:C5:0B:4B:86:9A:0B:82:AB:D9:2F\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendrecv\r\n" +
	"a=msid:2a0b3f80-b0a5-41d6-aab5-b1c893ae81f4 58deb63c-3f98-4550-884b-cc21c4c40d80\r\na=rtcp-mux\r\na=rtcp-rsize\r\n" +
	"a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n" +
	"a=ssrc:2648289058 cname:PqM8BJELvoUxZicD\r\n"

func testAPIPeer(t testing.TB) *Peer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CALLBRIDGE_TEST_LOG") != "" {
		log = slog.Default()
	}
	api, err := NewAPI(config.WebRTC{ICEInterfaces: []string{"127.0.0.1"}}, log, nil)
	require.NoError(t, err)
	p, err := newPeer(api, log, func(*webrtc.ICECandidateInit) {}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// The answer to Chromium's offer asks for narrowband Opus (maxplaybackrate
// in the answer, not only in the MediaEngine), keeps PCMU for the
// downlink, and lists Opus first.
func TestAnswerToChromiumOffer(t *testing.T) {
	p := testAPIPeer(t)
	answer, err := p.HandleOffer(chromiumOffer)
	require.NoError(t, err)
	assert.Contains(t, answer, "a=fmtp:111 minptime=10;useinbandfec=1;maxplaybackrate=8000")
	assert.Contains(t, answer, "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126")
	assert.Contains(t, answer, "a=rtpmap:0 PCMU/8000")
	assert.Equal(t, "PCMU", p.OutCodec().Name)
	assert.Equal(t, "opus", p.InCodec().Name)
}

func TestOfferRefusals(t *testing.T) {
	for name, sdp := range map[string]string{
		"garbage":  "hello",
		"no audio": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n",
		"no g711":  "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := testAPIPeer(t)
			_, err := p.HandleOffer(sdp)
			require.Error(t, err)
		})
	}
}

func FuzzHandleOffer(f *testing.F) {
	f.Add(chromiumOffer)
	f.Add("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, sdp string) {
		p := testAPIPeer(t)
		_, _ = p.HandleOffer(sdp) // must not panic
	})
}

// webrtc.nat_1to1_ips: host candidates carry the public address. The
// offer has no candidates of its own, so no check is sent anywhere.
func TestNAT1To1Candidates(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api, err := NewAPI(config.WebRTC{ICEInterfaces: []string{"127.0.0.1"}, NAT1To1IPs: []string{"192.0.2.10"}}, log, nil)
	require.NoError(t, err)
	cands := make(chan *webrtc.ICECandidateInit, 8)
	p, err := newPeer(api, log, func(c *webrtc.ICECandidateInit) { cands <- c }, nil)
	require.NoError(t, err)
	defer p.Close()
	_, err = p.HandleOffer(chromiumOffer)
	require.NoError(t, err)
	var got []string
	for c := range cands {
		if c == nil {
			break
		}
		got = append(got, c.Candidate)
	}
	require.NotEmpty(t, got)
	for _, c := range got {
		assert.Contains(t, c, " 192.0.2.10 ")
		assert.NotContains(t, c, "127.0.0.1")
	}
}
