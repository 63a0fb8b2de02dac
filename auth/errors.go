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
