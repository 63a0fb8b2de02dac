package demotrunk

import (
	"crypto/md5" //nolint:gosec // SIP digest is MD5 (RFC 3261 §22.4, RFC 2617 §3.2.2)
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// nonceTTL is how long a nonce of a 407 challenge stays valid.
const nonceTTL = 5 * time.Minute

// authenticator checks Proxy-Authorization on INVITEs: the trunk acts like a
// carrier's proxy and challenges with 407 (RFC 3261 §22.3, digest per RFC
// 2617 §3.2 with algorithm=MD5, qop=auth).
type authenticator struct {
	username, password, realm string

	mu     sync.Mutex
	nonces map[string]time.Time // nonce -> issue time; guarded by mu
}

func newAuthenticator(username, password, realm string) *authenticator {
	return &authenticator{username: username, password: password, realm: realm, nonces: map[string]time.Time{}}
}

// challenge returns a fresh Proxy-Authenticate header value.
func (a *authenticator) challenge(stale bool) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	now := time.Now()
	a.mu.Lock()
	for n, at := range a.nonces {
		if now.Sub(at) > nonceTTL {
			delete(a.nonces, n)
		}
	}
	a.nonces[nonce] = now
	a.mu.Unlock()
	chal := digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return chal.String()
}

func (a *authenticator) nonceValid(nonce string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.nonces[nonce]
	return ok && time.Since(at) <= nonceTTL
}

// check verifies the request's Proxy-Authorization (RFC 3261 §22.3) and
// returns the user name that passed. Errors: ErrAuthMissing and ErrAuthStale
// call for a new challenge, ErrAuthFailed for 403.
func (a *authenticator) check(req *sip.Request) (string, error) {
	var creds *digest.Credentials
	for _, h := range req.GetHeaders("Proxy-Authorization") {
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrAuthFailed, err)
		}
		if c.Realm == a.realm {
			creds = c
			break
		}
	}
	if creds == nil {
		return "", ErrAuthMissing
	}
	if !a.nonceValid(creds.Nonce) {
		return "", ErrAuthStale
	}
	if creds.Algorithm != "" && !strings.EqualFold(creds.Algorithm, "MD5") {
		return "", fmt.Errorf("%w: algorithm %q", ErrAuthFailed, creds.Algorithm)
	}
	want := digestResponse(a.username, a.password, a.realm, req.Method.String(), creds)
	userOK := subtle.ConstantTimeCompare([]byte(creds.Username), []byte(a.username)) == 1
	respOK := subtle.ConstantTimeCompare([]byte(strings.ToLower(creds.Response)), []byte(want)) == 1
	if !userOK || !respOK {
		return "", fmt.Errorf("%w: user %q", ErrAuthFailed, creds.Username)
	}
	return creds.Username, nil
}

// digestResponse computes request-digest of RFC 2617 §3.2.2.1 with the
// client's own uri, cnonce and nc.
func digestResponse(username, password, realm, method string, c *digest.Credentials) string {
	h := func(s string) string {
		sum := md5.Sum([]byte(s)) //nolint:gosec // protocol-mandated
		return hex.EncodeToString(sum[:])
	}
	ha1 := h(username + ":" + realm + ":" + password)
	ha2 := h(method + ":" + c.URI)
	if c.QOP == "" {
		// RFC 2069 compatibility (RFC 2617 §3.2.2.1).
		return h(ha1 + ":" + c.Nonce + ":" + ha2)
	}
	return h(fmt.Sprintf("%s:%s:%08x:%s:%s:%s", ha1, c.Nonce, c.Nc, c.Cnonce, c.QOP, ha2))
}
