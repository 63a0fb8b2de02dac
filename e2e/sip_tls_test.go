//go:build e2e

package e2e

// SIP over TLS between the bridge binary and baresip (Debian's sipp has no
// TLS and its kamailio no tls module). The test makes its own CA with
// crypto/x509: a server certificate for baresip (IP SAN 127.0.0.1, the
// trunk host the bridge verifies) and one for the bridge's tls: listener
// and client side.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

// testCA is a throwaway certificate authority.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemPath string // the CA certificate, PEM
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	ca := &testCA{cert: cert, key: key, pemPath: filepath.Join(t.TempDir(), name+".pem")}
	require.NoError(t, os.WriteFile(ca.pemPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return ca
}

// issue makes a certificate for 127.0.0.1 signed by the CA and writes the
// certificate and key PEM files; combined is both in one file (baresip's
// sip_certificate).
func (ca *testCA) issue(t *testing.T, name string) (certPath, keyPath, combined string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	dir := t.TempDir()
	certPath, keyPath, combined = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pem")
	require.NoError(t, os.WriteFile(certPath, certPEM, 0o600))
	require.NoError(t, os.WriteFile(keyPath, keyPEM, 0o600))
	require.NoError(t, os.WriteFile(combined, append(append([]byte{}, certPEM...), keyPEM...), 0o600))
	return certPath, keyPath, combined
}

// TestSIPLegOverTLS: the bridge's trunk is baresip over TLS
// (sip.trunk ;transport=tls, sip.tls.ca_file = the test's CA, the bridge
// listening on tls: with its own certificate). baresip answers and plays
// 600 Hz; audio must flow both ways over the TLS-signalled call, and the
// call ends from either side. A bridge that trusts another CA must refuse
// baresip's certificate and never reach it.
func TestSIPLegOverTLS(t *testing.T) {
	harness.BuildBridge(t)
	ca := newTestCA(t, "e2e-sip-ca")
	_, _, farPEM := ca.issue(t, "far")
	bridgeCert, bridgeKey, _ := ca.issue(t, "bridge")

	startFar := func(t *testing.T) (*harness.Baresip, int) {
		t.Helper()
		farPort := harness.FreeUDPPort(t)
		far := harness.StartBaresip(t, harness.BaresipConfig{
			SIPPort:     farPort,
			AudioSource: harness.MakeToneWAV(t, farHz, 30, 48000),
			Accounts:    []string{fmt.Sprintf("<sip:%s@127.0.0.1:%d;transport=tls>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA", dialedE164, farPort+1)},
			// baresip serves TLS on sip_listen's port + 1.
			Extra: fmt.Sprintf("sip_certificate\t%s\nsip_cafile\t%s\n", farPEM, ca.pemPath),
		})
		waitTCPListen(t, far.Process, farPort+1)
		return far, farPort + 1
	}
	tlsConfig := func(caPath string) legConfig {
		return legConfig{
			listen: fmt.Sprintf("tls:127.0.0.1:%d", harness.FreeTCPPort(t)),
			sip: map[string]string{
				"tls": fmt.Sprintf("{ca_file: %q, cert_file: %q, key_file: %q}", caPath, bridgeCert, bridgeKey),
			},
		}
	}

	for _, tc := range []struct {
		name   string
		hangBy string
	}{
		{"agent hangs up", "agent"},
		{"far end hangs up", "remote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			far, tlsPort := startFar(t)
			cfg := tlsConfig(ca.pemPath)
			cfg.trunk = fmt.Sprintf("sip:127.0.0.1:%d;transport=tls", tlsPort)
			b := startLegBridge(t, cfg)
			c := b.client(t)

			callID, states := call(t, c, dialed, "answered", nil)
			require.Equal(t, "answered", states[len(states)-1].State, "states: %v", stateNames(states))
			assert.Equal(t, 1, activeCalls(t, far), "baresip has the call")
			c.ResetReceived()
			sleepAudio()
			down := received(c)
			switch tc.hangBy {
			case "agent":
				hangup(t, c, callID)
			case "remote":
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := far.Command(ctx, "hangup", "")
				require.NoError(t, err)
			}
			states = waitEnded(t, c, "baresip's BYE never reached the bridge: baresip sends it to the "+
				"bridge's Contact, which must carry ;transport=tls on a TLS dialog (RFC 3263 §4.1: a sip: URI "+
				"without transport parameter means UDP, and the bridge listens on TLS only)")
			_, q850, reason, by := endCause(t, states)
			assert.Equal(t, tc.hangBy, by, "reason %q", reason)
			assert.Equal(t, 16, q850)
			assert.Eventually(t, func() bool { return activeCalls(t, far) == 0 }, 5*time.Second, 100*time.Millisecond,
				"baresip still has the call: the bridge's BYE did not reach it")

			requireTone(t, down, farHz, clientHz)
			requireTone(t, far.ReceivedAudio(t), clientHz, farHz)
			ev := b.hooks.completed(t, callID)
			assert.Equal(t, "completed", ev["status"])
			assert.Equal(t, tc.hangBy, hangupOf(t, ev)["by"])
		})
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		far, tlsPort := startFar(t)
		other := newTestCA(t, "other-ca")
		cfg := tlsConfig(other.pemPath)
		cfg.trunk = fmt.Sprintf("sip:127.0.0.1:%d;transport=tls", tlsPort)
		b := startLegBridge(t, cfg)
		c := b.client(t)

		callID, states := call(t, c, dialed, "ended", nil)
		code, _, reason, by := endCause(t, states)
		t.Logf("cause: %d %q by %s", code, reason, by)
		assert.Equal(t, "bridge", by)
		assert.Equal(t, 503, code)
		assert.Contains(t, reason, "certificate", "the TLS handshake failed on baresip's certificate")
		assert.NotContains(t, stateNames(states), "answered")
		assert.NotContains(t, strings.ToLower(far.Log()), "incoming call", "baresip got no call")
		assert.Equal(t, "failed", b.hooks.completed(t, callID)["status"])
	})
}

// activeCalls is how many calls baresip has (its listcalls command).
func activeCalls(t *testing.T, far *harness.Baresip) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := far.Command(ctx, "listcalls", "")
	require.NoError(t, err)
	m := regexp.MustCompile(`Active calls \((\d+)\)`).FindStringSubmatch(out)
	require.NotNil(t, m, "listcalls: %q", out)
	n, _ := strconv.Atoi(m[1])
	return n
}

// waitEnded reads call_state until ended, failing with why when it does
// not come within callTimeout.
func waitEnded(t *testing.T, c *sigclient.Client, why string) []sigclient.CallState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var states []sigclient.CallState
	for {
		cs, err := c.NextState(ctx)
		require.NoError(t, err, "no ended after %v: %s", stateNames(states), why)
		states = append(states, cs)
		if cs.State == "ended" {
			return states
		}
	}
}
