// Package auth mints and verifies seat tokens: JWTs (RFC 7519) signed with
// HMAC-SHA256 (RFC 7518 §3.2, "HS256") under the bridge's auth.token_secret,
// as the browser signaling contract defines them.
//
// Claims: "sub" = seat id (required), "exp" (required), "iat", "nbf",
// "jti", and an optional "caller_ids" list restricting which of the seat's
// numbers the token may present. Only HS256 is accepted; "none" and every
// other algorithm are refused before any key is used (RFC 8725 §3.1).
// Claims are read strictly: a time that is not a JSON number, a sub or jti
// that is not a string, or a "crit" header (RFC 7515 §4.1.11: the bridge
// understands no extension) is refused.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
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
	// ID is the "jti" claim; empty if absent.
	ID string
}

// Policy is how strictly Verify judges a token's times.
type Policy struct {
	// MaxLifetime refuses a token whose exp lies further than this after
	// its iat (after now when it has no iat); 0 = DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Skew is the leeway on exp, nbf and iat for clocks that differ.
	Skew time.Duration
	// RequireID refuses tokens without a jti.
	RequireID bool
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// DefaultMaxLifetime is the longest token lifetime Verify accepts when the
// policy sets none.
const DefaultMaxLifetime = 24 * time.Hour

func (p Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// jwtClaims is the wire form of Claims.
type jwtClaims struct {
	CallerIDs []string `json:"caller_ids,omitempty"`
	jwt.RegisteredClaims
}

// Mint returns a seat token for seat, valid for ttl from now, with a
// random jti.
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
	var id [16]byte
	_, _ = rand.Read(id[:])
	c := jwtClaims{
		CallerIDs: callerIDs,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        hex.EncodeToString(id[:]),
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

// Verify is VerifyPolicy with the default policy (24 h lifetime, no skew).
func Verify(secret []byte, token string) (*Claims, error) {
	return VerifyPolicy(secret, token, Policy{})
}

// VerifyPolicy checks token's HS256 signature under secret, the types of
// its claims, its expiry and lifetime under p, and returns its claims.
// Errors wrap ErrTokenExpired or ErrTokenInvalid (with the cause); they
// never contain the token itself.
func VerifyPolicy(secret []byte, token string, p Policy) (*Claims, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrSecretTooShort, len(secret), MinSecretLen)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: empty", ErrTokenInvalid)
	}
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrTokenInvalid, MaxTokenLen)
	}
	if p.MaxLifetime <= 0 {
		p.MaxLifetime = DefaultMaxLifetime
	}
	now := p.now()
	var c jwtClaims
	tok, err := jwt.ParseWithClaims(token, &c,
		func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(p.Skew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err == nil {
		err = strictClaims(tok)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	case c.Subject == "":
		return nil, fmt.Errorf("%w: no sub (seat) claim", ErrTokenInvalid)
	case p.RequireID && c.ID == "":
		return nil, fmt.Errorf("%w: no jti claim (auth.single_use_tokens is on)", ErrTokenInvalid)
	}
	start := now
	if c.IssuedAt != nil {
		start = c.IssuedAt.Time
	}
	if life := c.ExpiresAt.Sub(start); life > p.MaxLifetime+p.Skew {
		return nil, fmt.Errorf("%w: lifetime %s exceeds the %s maximum (auth.max_token_lifetime)", ErrTokenInvalid, life.Round(time.Second), p.MaxLifetime)
	}
	out := &Claims{
		Seat:      c.Subject,
		CallerIDs: c.CallerIDs,
		ExpiresAt: c.ExpiresAt.Time,
		ID:        c.ID,
	}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.Time
	}
	return out, nil
}

// strictClaims refuses what the JWT library tolerates: a "crit" header
// (RFC 7515 §4.1.11), times that are strings, and sub, jti or caller_ids
// of the wrong JSON type.
func strictClaims(tok *jwt.Token) error {
	if _, ok := tok.Header["crit"]; ok {
		return errors.New(`"crit" header: no JWS extension is supported (RFC 7515 §4.1.11)`)
	}
	parts := strings.Split(tok.Raw, ".")
	if len(parts) != 3 {
		return errors.New("not three parts")
	}
	payload, err := jwt.NewParser().DecodeSegment(parts[1])
	if err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return err
	}
	for name, v := range fields {
		var want string
		switch name {
		case "exp", "iat", "nbf":
			if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
				want = "a number (NumericDate, RFC 7519 §2)"
			}
		case "sub", "jti", "iss":
			if len(v) == 0 || v[0] != '"' {
				want = "a string"
			}
		case "caller_ids":
			var ids []string
			if json.Unmarshal(v, &ids) != nil {
				want = "a list of strings"
			}
		}
		if want != "" {
			return fmt.Errorf("claim %q must be %s", name, want)
		}
	}
	return nil
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
