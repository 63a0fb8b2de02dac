package demotrunk

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sdpHead = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"

func TestParseOffer(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    offer
		wantErr error
		code    int
	}{
		{name: "PCMU first", body: sdpHead + "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n",
			want: offer{codec: CodecPCMU, pt: 0, eventPT: 101, addr: netip.MustParseAddrPort("10.0.0.1:4000"), direction: "sendrecv"}},
		{name: "PCMA first", body: sdpHead + "m=audio 4000 RTP/AVP 8 0\r\n",
			want: offer{codec: CodecPCMA, pt: 8, eventPT: -1, addr: netip.MustParseAddrPort("10.0.0.1:4000"), direction: "sendrecv"}},
		{name: "opus then dynamic PCMA", body: sdpHead + "m=audio 4000 RTP/AVP 111 96\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:96 pcma/8000\r\n",
			want: offer{codec: CodecPCMA, pt: 96, eventPT: -1, addr: netip.MustParseAddrPort("10.0.0.1:4000"), direction: "sendrecv"}},
		{name: "media-level c= wins and sendonly", body: sdpHead + "m=audio 4002 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\na=sendonly\r\n",
			want: offer{codec: CodecPCMU, pt: 0, eventPT: -1, addr: netip.MustParseAddrPort("10.0.0.2:4002"), direction: "sendonly"}},
		{name: "session-level inactive", body: "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n",
			want: offer{codec: CodecPCMU, pt: 0, eventPT: -1, addr: netip.MustParseAddrPort("10.0.0.1:4000"), direction: "inactive"}},
		{name: "IPv6", body: "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
			want: offer{codec: CodecPCMU, pt: 0, eventPT: -1, addr: netip.MustParseAddrPort("[::1]:4000"), direction: "sendrecv"}},
		{name: "rejected audio then usable audio", body: sdpHead + "m=audio 0 RTP/AVP 0\r\nm=audio 4004 RTP/AVP 8\r\n",
			want: offer{codec: CodecPCMA, pt: 8, eventPT: -1, addr: netip.MustParseAddrPort("10.0.0.1:4004"), direction: "sendrecv"}},
		{name: "empty", body: "", wantErr: ErrBadSDP, code: 400},
		{name: "not SDP", body: "hello", wantErr: ErrBadSDP, code: 400},
		{name: "video only", body: sdpHead + "m=video 4000 RTP/AVP 96\r\n", wantErr: ErrNoAudio, code: 488},
		{name: "SRTP only", body: sdpHead + "m=audio 4000 RTP/SAVP 0\r\n", wantErr: ErrNoAudio, code: 488},
		{name: "no G.711", body: sdpHead + "m=audio 4000 RTP/AVP 9 18\r\n", wantErr: ErrNoCodec, code: 488},
		{name: "no c=", body: "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", wantErr: ErrNoConnection, code: 488},
		{name: "hostname c=", body: "v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nc=IN IP4 pbx.example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", wantErr: ErrNoConnection, code: 488},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOffer([]byte(tt.body))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				code, _ := sipStatus(err)
				assert.Equal(t, tt.code, code)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestBuildAnswerRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		o    offer
		host string
		dir  string
	}{
		{name: "PCMU with events", o: offer{codec: CodecPCMU, pt: 0, eventPT: 101, direction: "sendrecv"}, host: "127.0.0.1", dir: "sendrecv"},
		{name: "PCMA hold", o: offer{codec: CodecPCMA, pt: 8, eventPT: -1, direction: "sendonly"}, host: "127.0.0.1", dir: "recvonly"},
		{name: "IPv6", o: offer{codec: CodecPCMU, pt: 0, eventPT: -1, direction: "recvonly"}, host: "::1", dir: "sendonly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := buildAnswer(tt.o, netip.MustParseAddr(tt.host), 30000, 42, 1)
			require.NoError(t, err)
			back, err := parseOffer(body)
			require.NoError(t, err, "%s", body)
			assert.Equal(t, tt.o.codec, back.codec)
			assert.Equal(t, tt.o.pt, back.pt)
			assert.Equal(t, tt.o.eventPT, back.eventPT)
			assert.Equal(t, netip.AddrPortFrom(netip.MustParseAddr(tt.host), 30000), back.addr)
			assert.Equal(t, tt.dir, back.direction)
			assert.Contains(t, string(body), "a=ptime:20")
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{NumberEcho, NumberEcho},
		{"15550100002", NumberTone},
		{"+1-555-010-0003", NumberBusy},
		{"+1 (555) 0100004", ""}, // spaces are not valid in a SIP user part
		{"+15550100007", ""},
		{"alice", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, number(tt.in))
		})
	}
}

// TestDigestMatchesClient checks the server side against the digest library
// sipgo's client uses (RFC 2617 §3.2.2).
func TestDigestMatchesClient(t *testing.T) {
	a := newAuthenticator("agent7", "s3cret", "demo.test")
	chal, err := digest.ParseChallenge(a.challenge(false))
	require.NoError(t, err)
	tests := []struct {
		name, user, pass string
		wantErr          error
	}{
		{name: "right", user: "agent7", pass: "s3cret"},
		{name: "wrong password", user: "agent7", pass: "nope", wantErr: ErrAuthFailed},
		{name: "wrong user", user: "agent8", pass: "s3cret", wantErr: ErrAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:+15550100001@127.0.0.1:5080", Username: tt.user, Password: tt.pass})
			require.NoError(t, err)
			req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "+15550100001", Host: "127.0.0.1", Port: 5080})
			req.AppendHeader(sip.NewHeader("Proxy-Authorization", cred.String()))
			user, err := a.check(req)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "agent7", user)
		})
	}

	t.Run("unknown nonce is stale", func(t *testing.T) {
		stale := *chal
		stale.Nonce = "0123"
		cred, err := digest.Digest(&stale, digest.Options{Method: "INVITE", URI: "sip:x@y", Username: "agent7", Password: "s3cret"})
		require.NoError(t, err)
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "x", Host: "y"})
		req.AppendHeader(sip.NewHeader("Proxy-Authorization", cred.String()))
		_, err = a.check(req)
		require.ErrorIs(t, err, ErrAuthStale)
	})
	t.Run("no header", func(t *testing.T) {
		_, err := a.check(sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "x", Host: "y"}))
		require.ErrorIs(t, err, ErrAuthMissing)
	})
	t.Run("garbage header", func(t *testing.T) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "x", Host: "y"})
		req.AppendHeader(sip.NewHeader("Proxy-Authorization", "Basic Zm9v"))
		_, err := a.check(req)
		require.ErrorIs(t, err, ErrAuthFailed)
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "hostname as RTPHost", opts: Options{RTPHost: "localhost"}},
		{name: "unspecified RTPHost", opts: Options{RTPHost: "0.0.0.0"}},
		{name: "reversed ports", opts: Options{RTPPorts: [2]int{20000, 10000}}},
		{name: "one port", opts: Options{RTPPorts: [2]int{20000, 20000}}},
		{name: "privileged ports", opts: Options{RTPPorts: [2]int{80, 90}}},
		{name: "user without password", opts: Options{Username: "a"}},
		{name: "tone above Nyquist", opts: Options{ToneHz: 5000}},
		{name: "negative ring", opts: Options{RingFor: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			require.ErrorIs(t, err, ErrBadOptions)
		})
	}
	tr, err := New(Options{})
	require.NoError(t, err)
	require.NoError(t, tr.Close())
	require.NoError(t, tr.Close(), "Close twice")
}

func TestSIPStatusDefault(t *testing.T) {
	code, _ := sipStatus(errors.New("boom"))
	assert.Equal(t, 500, code)
}

func FuzzParseOffer(f *testing.F) {
	f.Add([]byte(sdpHead + "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Add([]byte(sdpHead + "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000\r\na=sendonly\r\n"))
	f.Add([]byte("v=0\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := parseOffer(body)
		if err != nil {
			code, _ := sipStatus(err)
			if code != 400 && code != 488 {
				t.Fatalf("status %d for %v", code, err)
			}
			return
		}
		if o.codec != CodecPCMU && o.codec != CodecPCMA {
			t.Fatalf("codec %q", o.codec)
		}
		if _, err := buildAnswer(o, netip.MustParseAddr("127.0.0.1"), 4000, 1, 1); err != nil {
			t.Fatalf("answer: %v", err)
		}
	})
}
