package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifyPolicy(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	policy := Policy{MaxLifetime: 24 * time.Hour, Skew: 30 * time.Second, Now: clock}
	tests := []struct {
		name   string
		header map[string]any
		claims map[string]any
		policy Policy
		want   error // nil = accepted
	}{
		{"within the lifetime", hs256, map[string]any{"sub": "a", "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix()}, policy, nil},
		{"year 9999", hs256, map[string]any{"sub": "a", "iat": now.Unix(), "exp": 253402300799}, policy, ErrTokenInvalid},
		{"year 9999 without iat", hs256, map[string]any{"sub": "a", "exp": 253402300799}, policy, ErrTokenInvalid},
		{"old iat, long exp", hs256, map[string]any{"sub": "a", "iat": now.Add(-30 * 24 * time.Hour).Unix(), "exp": now.Add(time.Hour).Unix()}, policy, ErrTokenInvalid},
		{"default policy caps at 24 h too", hs256, map[string]any{"sub": "a", "exp": 253402300799}, Policy{Now: clock}, ErrTokenInvalid},
		{"expired within the skew", hs256, map[string]any{"sub": "a", "exp": now.Add(-10 * time.Second).Unix()}, policy, nil},
		{"expired beyond the skew", hs256, map[string]any{"sub": "a", "exp": now.Add(-time.Minute).Unix()}, policy, ErrTokenExpired},
		{"iat in the future", hs256, map[string]any{"sub": "a", "iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()}, policy, ErrTokenInvalid},
		{"nbf within the skew", hs256, map[string]any{"sub": "a", "nbf": now.Add(10 * time.Second).Unix(), "exp": now.Add(time.Hour).Unix()}, policy, nil},
		{"exp as a string", hs256, map[string]any{"sub": "a", "exp": "1800003600"}, policy, ErrTokenInvalid},
		{"iat as a string", hs256, map[string]any{"sub": "a", "iat": "1800000000", "exp": now.Add(time.Hour).Unix()}, policy, ErrTokenInvalid},
		{"sub as a number", hs256, map[string]any{"sub": 7, "exp": now.Add(time.Hour).Unix()}, policy, ErrTokenInvalid},
		{"jti as a number", hs256, map[string]any{"sub": "a", "jti": 7, "exp": now.Add(time.Hour).Unix()}, policy, ErrTokenInvalid},
		{"caller_ids not strings", hs256, map[string]any{"sub": "a", "caller_ids": []any{1}, "exp": now.Add(time.Hour).Unix()}, policy, ErrTokenInvalid},
		{"unknown crit", map[string]any{"alg": "HS256", "crit": []string{"x-bound"}, "x-bound": true}, map[string]any{"sub": "a", "exp": now.Add(time.Hour).Unix()}, policy, ErrTokenInvalid},
		{"jti required", hs256, map[string]any{"sub": "a", "exp": now.Add(time.Hour).Unix()}, Policy{RequireID: true, Now: clock}, ErrTokenInvalid},
		{"jti present", hs256, map[string]any{"sub": "a", "jti": "t-1", "exp": now.Add(time.Hour).Unix()}, Policy{RequireID: true, Now: clock}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyPolicy(secret, handMade(t, tt.header, tt.claims, secret), tt.policy)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "a", c.Seat)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestMintSetsTokenID(t *testing.T) {
	a, err := Mint(secret, "a", time.Hour, nil)
	require.NoError(t, err)
	b, err := Mint(secret, "a", time.Hour, nil)
	require.NoError(t, err)
	ca, err := VerifyPolicy(secret, a, Policy{RequireID: true})
	require.NoError(t, err)
	cb, err := VerifyPolicy(secret, b, Policy{RequireID: true})
	require.NoError(t, err)
	assert.NotEmpty(t, ca.ID)
	assert.NotEqual(t, ca.ID, cb.ID)
}

func TestGuard(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	g := NewGuard(time.Hour, 30*time.Second, func() time.Time { return now })
	revoked := 0
	g.OnRevoke(func() { revoked++ })
	tok := func(seat, id string, iat time.Time) *Claims {
		return &Claims{Seat: seat, ID: id, IssuedAt: iat, ExpiresAt: iat.Add(time.Hour)}
	}

	t.Run("single use", func(t *testing.T) {
		c := tok("a", "j1", now)
		require.NoError(t, g.Check(c, true))
		require.ErrorIs(t, g.Check(c, true), ErrTokenReplayed)
		require.NoError(t, g.Check(c, false), "a resume with the same token is no replay")
	})
	t.Run("revoke a token id", func(t *testing.T) {
		c := tok("a", "j2", now)
		require.NoError(t, g.Check(c, false))
		g.RevokeToken("j2")
		require.ErrorIs(t, g.Check(c, false), ErrTokenRevoked)
		require.NoError(t, g.Check(tok("a", "j3", now), false), "other tokens of the seat stay valid")
	})
	t.Run("revoke a seat", func(t *testing.T) {
		old := tok("b", "k1", now.Add(-time.Minute))
		g.RevokeSeat("b")
		require.ErrorIs(t, g.Check(old, false), ErrTokenRevoked)
		require.ErrorIs(t, g.Check(&Claims{Seat: "b", ExpiresAt: now.Add(time.Hour)}, false), ErrTokenRevoked, "a token without iat cannot prove it is newer")
		now = now.Add(2 * time.Second)
		require.NoError(t, g.Check(tok("b", "k2", now), true), "a token minted after the revocation is valid")
	})
	assert.Equal(t, 2, revoked, "every revocation notifies")
	assert.Len(t, g.Revocations(), 2)

	t.Run("entries expire with the tokens they concern", func(t *testing.T) {
		now = now.Add(2 * time.Hour)
		assert.Empty(t, g.Revocations())
		require.NoError(t, g.Check(tok("a", "j1", now), true), "a spent id is forgotten once its token has expired")
	})
}
