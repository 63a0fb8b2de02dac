package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// handMade builds a JWT without the jwt library, the way a CRM backend in
// another language would, so the test pins the wire format.
func handMade(t *testing.T, header, claims map[string]any, key []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestMintVerify(t *testing.T) {
	tok, err := Mint(secret, "agent-7", time.Hour, []string{"+14155550100"})
	require.NoError(t, err)

	c, err := Verify(secret, tok)
	require.NoError(t, err)
	assert.Equal(t, "agent-7", c.Seat)
	assert.Equal(t, []string{"+14155550100"}, c.CallerIDs)
	assert.WithinDuration(t, time.Now().Add(time.Hour), c.ExpiresAt, 5*time.Second)
	assert.WithinDuration(t, time.Now(), c.IssuedAt, 5*time.Second)

	// The payload carries exactly the contract's claim names.
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, "agent-7", m["sub"])
	assert.Contains(t, m, "exp")
	assert.Contains(t, m, "iat")
	assert.Equal(t, []any{"+14155550100"}, m["caller_ids"])
}

func TestVerifyForeignToken(t *testing.T) {
	exp := time.Now().Add(10 * time.Minute).Unix()
	tok := handMade(t, map[string]any{"alg": "HS256", "typ": "JWT"},
		map[string]any{"sub": "agent-9", "exp": exp}, secret)
	c, err := Verify(secret, tok)
	require.NoError(t, err)
	assert.Equal(t, "agent-9", c.Seat)
	assert.Empty(t, c.CallerIDs)
	assert.True(t, c.IssuedAt.IsZero())
	assert.Equal(t, exp, c.ExpiresAt.Unix())
}

func TestVerifyRejects(t *testing.T) {
	future := time.Now().Add(time.Hour).Unix()
	good := map[string]any{"sub": "agent-7", "exp": future}
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	valid := handMade(t, hs256, good, secret)
	vparts := strings.Split(valid, ".")

	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(good)).SignedString(secret)
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(good)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	// The classic confusion: an "RS256" header over an HMAC signature.
	rsHeader := handMade(t, map[string]any{"alg": "RS256", "typ": "JWT"}, good, secret)

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"expired", handMade(t, hs256, map[string]any{"sub": "a", "exp": time.Now().Add(-time.Minute).Unix()}, secret), ErrTokenExpired},
		{"wrong secret", handMade(t, hs256, good, []byte("ffffffffffffffffffffffffffffffff")), ErrTokenInvalid},
		{"alg none", none, ErrTokenInvalid},
		{"alg none unsigned", strings.Join([]string{base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)), vparts[1], ""}, "."), ErrTokenInvalid},
		{"HS512", hs512, ErrTokenInvalid},
		{"RS256 header", rsHeader, ErrTokenInvalid},
		{"tampered payload", vparts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"boss","exp":9999999999}`)) + "." + vparts[2], ErrTokenInvalid},
		{"no exp", handMade(t, hs256, map[string]any{"sub": "a"}, secret), ErrTokenInvalid},
		{"no sub", handMade(t, hs256, map[string]any{"exp": future}, secret), ErrTokenInvalid},
		{"not yet valid", handMade(t, hs256, map[string]any{"sub": "a", "exp": future, "nbf": future - 60}, secret), ErrTokenInvalid},
		{"empty", "", ErrTokenInvalid},
		{"garbage", "not-a-jwt", ErrTokenInvalid},
		{"two parts", vparts[0] + "." + vparts[1], ErrTokenInvalid},
		{"oversized", valid + strings.Repeat("A", MaxTokenLen), ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(secret, tt.token)
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, c)
			if tt.token != "" {
				assert.NotContains(t, err.Error(), tt.token, "error must not leak the token")
				for _, p := range strings.Split(tt.token, ".") {
					if len(p) > 8 {
						assert.NotContains(t, err.Error(), p, "error must not leak token parts")
					}
				}
			}
		})
	}
}

func TestSecretLength(t *testing.T) {
	short := []byte("too-short")
	_, err := Mint(short, "a", time.Hour, nil)
	require.ErrorIs(t, err, ErrSecretTooShort)
	tok, err := Mint(secret, "a", time.Hour, nil)
	require.NoError(t, err)
	_, err = Verify(short, tok)
	require.ErrorIs(t, err, ErrSecretTooShort)
}

func TestMintRejects(t *testing.T) {
	_, err := Mint(secret, "", time.Hour, nil)
	require.Error(t, err)
	_, err = Mint(secret, "a", 0, nil)
	require.Error(t, err)
	_, err = Mint(secret, "a", -time.Second, nil)
	require.Error(t, err)
}

func FuzzVerify(f *testing.F) {
	tok, err := Mint(secret, "agent-7", time.Hour, []string{"+14155550100"})
	require.NoError(f, err)
	f.Add(tok)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := Verify(secret, token)
		if err != nil {
			require.Nil(t, c)
			require.True(t, errorsIsAny(err, ErrTokenInvalid, ErrTokenExpired), "unexpected error class: %v", err)
			if len(token) >= 16 {
				require.NotContains(t, err.Error(), token)
			}
			return
		}
		require.NotEmpty(t, c.Seat)
		require.False(t, c.ExpiresAt.IsZero())
	})
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func TestBearerMatches(t *testing.T) {
	req := func(h string) *http.Request {
		r := httptest.NewRequest("GET", "/v1/admin/calls?token=admin-token-123", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		return r
	}
	for _, tc := range []struct {
		configured, header string
		want               bool
	}{
		{"admin-token-123", "Bearer admin-token-123", true},
		{"admin-token-123", "Bearer admin-token-12", false},
		{"admin-token-123", "admin-token-123", false}, // no scheme
		{"admin-token-123", "", false},                // a query token is not enough
		{"", "Bearer ", false},                        // no admin token: the API is off
	} {
		if got := BearerMatches(tc.configured, req(tc.header)); got != tc.want {
			t.Errorf("BearerMatches(%q, %q) = %v", tc.configured, tc.header, got)
		}
	}
}

// config refuses an auth.token_secret that Sign and Verify would refuse.
func TestMinSecretLenMatchesConfig(t *testing.T) {
	assert.Equal(t, config.MinTokenSecretLen, MinSecretLen)
}
