package auth

import "errors"

var (
	// ErrTokenInvalid: the token is malformed, not signed HS256 with the
	// bridge's secret, or lacks a required claim.
	ErrTokenInvalid = errors.New("invalid seat token")
	// ErrTokenExpired: the token was valid but its exp is in the past.
	ErrTokenExpired = errors.New("seat token expired")
	// ErrSecretTooShort: the HS256 key is shorter than MinSecretLen bytes.
	ErrSecretTooShort = errors.New("token secret too short")
)

var (
	// ErrTokenRevoked: the token's id or its seat was revoked through the
	// admin API.
	ErrTokenRevoked = errors.New("seat token revoked")
	// ErrTokenReplayed: a single-use token's jti already opened a session.
	ErrTokenReplayed = errors.New("seat token already used")
)
