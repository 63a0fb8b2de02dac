package webhook

import "errors"

var (
	// ErrBadSecret: the signing secret is not "whsec_" + base64 of 24-64 bytes.
	ErrBadSecret = errors.New("webhook: bad secret")
	// ErrMissingHeaders: a request lacks webhook-id, webhook-timestamp or webhook-signature.
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	// ErrBadSignature: no v1 signature in webhook-signature matches.
	ErrBadSignature = errors.New("webhook: signature mismatch")
	// ErrTimestamp: webhook-timestamp is malformed or outside the tolerance.
	ErrTimestamp = errors.New("webhook: timestamp outside tolerance")
	// ErrClosed: Publish after Close.
	ErrClosed = errors.New("webhook: publisher closed")
	// ErrPrivateTarget: the target resolves to a loopback/private address
	// and private targets are not allowed.
	ErrPrivateTarget = errors.New("webhook: private target refused")
	// ErrTemplate: the body template does not parse, fails to render, or
	// renders invalid JSON.
	ErrTemplate = errors.New("webhook: bad template")
	// ErrNotFound: the operator API or outbox was asked for an unknown id.
	ErrNotFound = errors.New("webhook: not found")
)
