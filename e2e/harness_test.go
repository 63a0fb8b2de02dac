//go:build e2e

package e2e

// Harness self-tests: real peers against each other, without the bridge,
// so that a failure in a bridge test can be trusted to be the bridge's.

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
)

// toneMinAmplitude is the least Goertzel amplitude (full scale 1) that
// counts as "the tone is there"; test tones are made at 0.5.
const toneMinAmplitude = 0.15

// requireTone asserts that hz dominates the audio after warm-up and is loud.
func requireTone(t *testing.T, a harness.Audio, hz float64, others ...float64) {
	t.Helper()
	requireToneMin(t, a, toneMinAmplitude, hz, others...)
}

// requireToneMin is requireTone with its own amplitude floor.
func requireToneMin(t *testing.T, a harness.Audio, minAmp, hz float64, others ...float64) {
	t.Helper()
	require.Greater(t, a.Duration(), 1.5, "recording too short: %.2fs", a.Duration())
	w := a.Window(0.5, a.Duration()-0.2)
	got, amp := harness.DominantTone(w, a.Rate, append([]float64{hz}, others...)...)
	t.Logf("recording %.2fs at %d Hz: rms %.3f, %g Hz amplitude %.3f", a.Duration(), a.Rate, harness.RMS(w), hz, harness.ToneAmplitude(w, a.Rate, hz))
	assert.Equal(t, hz, got, "dominant tone")
	assert.Greater(t, amp, minAmp, "tone amplitude")
}

// TestHarnessSippUASvsUACInSealedNetns runs sipp's built-in echoing UAS
// and the harness's tone UAC inside a sealed namespace, and checks the
// ladder each side saw.
func TestHarnessSippUASvsUACInSealedNetns(t *testing.T) {
	ns := harness.NewSealedNetns(t)
	tone := harness.MakeToneULawWAV(t, 1000, 3)
	uas := harness.StartSippWith(t, harness.SippConfig{
		NS: ns, Name: "sipp-uas", Scenario: "uas",
		Args: []string{"-i", "127.0.0.1", "-p", "5060", "-mi", "127.0.0.1", "-mp", "6000", "-rtp_echo", "-m", "1", "-timeout", "30s"},
	})
	uac := harness.StartSippWith(t, harness.SippConfig{
		NS: ns, Name: "sipp-uac", Scenario: "uac_tone.xml", Files: map[string]string{"tone.wav": tone},
		Args: []string{"127.0.0.1:5060", "-s", "echo", "-i", "127.0.0.1", "-p", "5062", "-mi", "127.0.0.1", "-mp", "6010", "-d", "1000", "-m", "1", "-timeout", "30s"},
	})
	require.NoError(t, uac.WaitExit(30*time.Second), "UAC")
	require.NoError(t, uas.WaitExit(30*time.Second), "UAS")

	assert.Equal(t, []string{
		"> INVITE sip:echo@127.0.0.1:5060 SIP/2.0",
		"< SIP/2.0 180 Ringing",
		"< SIP/2.0 200 OK",
		"> ACK sip:127.0.0.1:5060;transport=UDP SIP/2.0",
		"> BYE sip:127.0.0.1:5060;transport=UDP SIP/2.0",
		"< SIP/2.0 200 OK",
	}, harness.StartLines(uac.Messages()))
	assert.Equal(t, []string{
		"< INVITE sip:echo@127.0.0.1:5060 SIP/2.0",
		"> SIP/2.0 180 Ringing",
		"> SIP/2.0 200 OK",
		"< ACK sip:127.0.0.1:5060;transport=UDP SIP/2.0",
		"< BYE sip:127.0.0.1:5060;transport=UDP SIP/2.0",
		"> SIP/2.0 200 OK",
	}, harness.StartLines(uas.Messages()))
}

// TestHarnessBaresipAnswersSipp: baresip as the auto-answering far end of a
// sipp UAC streaming 1 kHz; baresip's recording must hold that tone.
func TestHarnessBaresipAnswersSipp(t *testing.T) {
	far := harness.StartBaresip(t, harness.BaresipConfig{})
	tone := harness.MakeToneULawWAV(t, 1000, 3)
	port := harness.FreeUDPPort(t)
	uac := harness.StartSippWith(t, harness.SippConfig{
		Name: "sipp-uac", Scenario: "uac_tone.xml", Files: map[string]string{"tone.wav": tone},
		Args: []string{far.SIPAddr, "-s", "far", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
			"-mi", "127.0.0.1", "-mp", strconv.Itoa(harness.FreeUDPPortPair(t)), "-d", "3000", "-m", "1", "-timeout", "30s"},
	})
	require.NoError(t, uac.WaitExit(30*time.Second), "UAC")
	lines := harness.StartLines(uac.Messages())
	require.NotEmpty(t, lines)
	assert.Contains(t, lines, "< SIP/2.0 200 OK")
	requireTone(t, far.ReceivedAudio(t), 1000, 600)
}

// TestHarnessKamailioChallengesInFrontOfBaresip: kamailio answers the INVITE
// with 407, the UAC retries with credentials, kamailio relays to baresip
// (registered through a 401), and the 1 kHz tone reaches baresip. A wrong
// password gets 407 again and the call fails.
func TestHarnessKamailioChallengesInFrontOfBaresip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		password string
		wantOK   bool
	}{
		{name: "good password", password: "s3cret", wantOK: true},
		{name: "wrong password", password: "guess", wantOK: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			farPort := harness.FreeUDPPort(t)
			kam := harness.StartKamailio(t, harness.KamailioConfig{
				Users:  []harness.KamailioUser{{Name: "alice", Password: "s3cret"}, {Name: "far", Password: "farpass"}},
				FarEnd: fmt.Sprintf("sip:127.0.0.1:%d", farPort),
			})
			far := harness.StartBaresip(t, harness.BaresipConfig{
				SIPPort:  farPort,
				Accounts: []string{fmt.Sprintf("<sip:far@%s>;auth_pass=farpass;regint=60;answermode=auto;audio_codecs=PCMU,PCMA", kam.Addr)},
			})
			far.WaitLog(t, "200 OK", 10*time.Second) // REGISTER went through the 401

			tone := harness.MakeToneULawWAV(t, 1000, 3)
			uac := harness.StartSippWith(t, harness.SippConfig{
				Name: "sipp-uac", Scenario: "uac_tone.xml", Files: map[string]string{"tone.wav": tone},
				Args: []string{kam.Addr, "-s", "far", "-au", "alice", "-ap", tc.password,
					"-i", "127.0.0.1", "-p", strconv.Itoa(harness.FreeUDPPort(t)),
					"-mi", "127.0.0.1", "-mp", strconv.Itoa(harness.FreeUDPPortPair(t)), "-d", "3000", "-m", "1", "-timeout", "20s"},
			})
			err := uac.WaitExit(30 * time.Second)
			msgs := uac.Messages()
			require.NotEmpty(t, msgs)
			assert.Equal(t, 407, msgs[1].Status(), "first final response: %v", harness.StartLines(msgs))
			assert.Contains(t, msgs[1].Header("Proxy-Authenticate"), "Digest")
			if !tc.wantOK {
				require.Error(t, err, "UAC must fail with a wrong password")
				assert.NotContains(t, harness.StartLines(msgs), "< SIP/2.0 200 OK")
				return
			}
			require.NoError(t, err, "UAC")
			var invites []harness.SIPMessage
			for _, m := range msgs {
				if m.Sent && m.Method() == "INVITE" {
					invites = append(invites, m)
				}
			}
			require.Len(t, invites, 2)
			assert.Contains(t, invites[1].Header("Proxy-Authorization"), `username="alice"`)
			assert.Contains(t, kam.Log(), "authenticated as alice")
			requireTone(t, far.ReceivedAudio(t), 1000, 600)
		})
	}
}

// TestHarnessBaresipCallsBaresipInSealedNetns drives a baresip caller over
// ctrl_tcp to a baresip far end inside a sealed namespace: both hear the
// other's tone.
func TestHarnessBaresipCallsBaresipInSealedNetns(t *testing.T) {
	ns := harness.NewSealedNetns(t)
	far := harness.StartBaresip(t, harness.BaresipConfig{NS: ns, Name: "far", SIPPort: 5070,
		AudioSource: harness.MakeToneWAV(t, 600, 30, 48000)})
	caller := harness.StartBaresip(t, harness.BaresipConfig{NS: ns, Name: "caller", SIPPort: 5072, User: "caller",
		AudioSource: harness.MakeToneWAV(t, 440, 30, 48000)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := caller.Command(ctx, "dial", far.URI)
	require.NoError(t, err)
	far.WaitLog(t, "Call established", 10*time.Second)
	time.Sleep(3 * time.Second) // let audio flow both ways
	_, err = caller.Command(ctx, "hangup", "")
	require.NoError(t, err)
	requireTone(t, far.ReceivedAudio(t), 440, 600)
	requireTone(t, caller.ReceivedAudio(t), 600, 440)
}

// TestHarnessNATTopology: traffic from the LAN reaches the public side from
// the router's address; the public side cannot open anything toward the LAN.
func TestHarnessNATTopology(t *testing.T) {
	for _, tc := range []struct {
		name        string
		randomPorts bool
	}{
		{name: "port-preserving"},
		{name: "random ports", randomPorts: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nat := harness.NewNAT(t, tc.randomPorts)
			srv, err := nat.Pub.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(harness.NATPubAddr)})
			require.NoError(t, err)
			defer srv.Close()
			cli, err := nat.Lan.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(harness.NATLanAddr), Port: 40000})
			require.NoError(t, err)
			defer cli.Close()

			_, err = cli.WriteToUDP([]byte("hello"), srv.LocalAddr().(*net.UDPAddr))
			require.NoError(t, err)
			require.NoError(t, srv.SetReadDeadline(time.Now().Add(5*time.Second)))
			buf := make([]byte, 64)
			n, from, err := srv.ReadFromUDP(buf)
			require.NoError(t, err)
			assert.Equal(t, "hello", string(buf[:n]))
			assert.Equal(t, harness.NATRtrPub, from.IP.String(), "source rewritten by the NAT")
			if !tc.randomPorts {
				assert.Equal(t, 40000, from.Port, "MASQUERADE keeps the port")
			}

			// The reply through the mapping reaches the LAN host.
			_, err = srv.WriteToUDP([]byte("back"), from)
			require.NoError(t, err)
			require.NoError(t, cli.SetReadDeadline(time.Now().Add(5*time.Second)))
			n, _, err = cli.ReadFromUDP(buf)
			require.NoError(t, err)
			assert.Equal(t, "back", string(buf[:n]))

			// The public side has no route into the LAN.
			_, err = nat.Pub.DialContext(context.Background(), "tcp4", net.JoinHostPort(harness.NATLanAddr, "80"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "unreachable")
		})
	}
}
