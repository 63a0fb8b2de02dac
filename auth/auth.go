// Package auth mints and verifies seat tokens: JWTs (RFC 7519) signed with
// HMAC-SHA256 (RFC 7518 §3.2, "HS256") under the bridge's auth.token_secret,
// as the browser signaling contract defines them.
//
// Claims: "sub" = seat id (required), "exp" (required), "iat", and an
// optional "caller_ids" list restricting which of the seat's numbers the
// token may present. Only HS256 is accepted; "none" and every other
// algorithm are refused before any key is used (RFC 8725 §3.1).
package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// MinSecretLen is the shortest HS256 key accepted, in bytes: the size of
	// the hash output (RFC 7518 §3.2).
	MinSecretLen = 32
	// MaxTokenLen bounds the tokens Verify will parse.
	MaxTokenLen = 8 << 10
)

// Claims are the verified contents of a seat token.
type Claims struct {
	// Seat is the "sub" claim: the seat id.
	Seat string
	// CallerIDs, when non-empty, restricts the From numbers this token may
	// use to this subset of the seat's caller ids.
	CallerIDs []string
	// ExpiresAt is the "exp" claim.
	ExpiresAt time.Time
	// IssuedAt is the "iat" claim; zero if absent.
	IssuedAt time.Time
}

// jwtClaims is the wire form of Claims.
type jwtClaims struct {
	CallerIDs []string `json:"caller_ids,omitempty"`
	jwt.RegisteredClaims
}

// Mint returns a seat token for seat, valid for ttl from now.
func Mint(secret []byte, seat string, ttl time.Duration, callerIDs []string) (string, error) {
	if len(secret) < MinSecretLen {
		return "", fmt.Errorf("%w: %d bytes, need at least %d", ErrSecretTooShort, len(secret), MinSecretLen)
	}
	if seat == "" {
		return "", errors.New("auth: mint: empty seat id")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("auth: mint: ttl must be positive, got %s", ttl)
	}
	now := time.Now()
	c := jwtClaims{
		CallerIDs: callerIDs,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   seat,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return s, nil
}

// Verify checks token's HS256 signature under secret and its expiry, and
// returns its claims. Errors wrap ErrTokenExpired or ErrTokenInvalid (with
// the cause); they never contain the token itself.
func Verify(secret []byte, token string) (*Claims, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrSecretTooShort, len(secret), MinSecretLen)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: empty", ErrTokenInvalid)
	}
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrTokenInvalid, MaxTokenLen)
	}
	var c jwtClaims
	_, err := jwt.ParseWithClaims(token, &c,
		func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	case c.Subject == "":
		return nil, fmt.Errorf("%w: no sub (seat) claim", ErrTokenInvalid)
	}
	out := &Claims{
		Seat:      c.Subject,
		CallerIDs: c.CallerIDs,
		ExpiresAt: c.ExpiresAt.Time,
	}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.Time
	}
	return out, nil
}

// BearerMatches reports whether r carries "Authorization: Bearer <token>"
// for the configured admin token, compared in constant time. An empty
// configured token matches nothing: the admin API is then off. Tokens in
// query strings are not accepted, as they end up in access logs.
func BearerMatches(token string, r *http.Request) bool {
	if token == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// RequireAdmin wraps operator endpoints: a request without the admin
// bearer token (auth.admin_token) gets 401. Every owner of an admin route
// registers it through this.
func RequireAdmin(token string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !BearerMatches(token, r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="callbridge"`)
				http.Error(w, "admin token required", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}
