package record

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestQ850FromSIP(t *testing.T) {
	// RFC 3398 §8.2.6.1.
	cases := map[int]int{
		400: 41, 401: 21, 402: 21, 403: 21, 404: 1, 405: 63, 406: 79, 407: 21, 408: 102,
		410: 22, 413: 127, 414: 127, 415: 79, 416: 127, 420: 127, 421: 127, 423: 127,
		480: 18, 481: 41, 482: 25, 483: 25, 484: 28, 485: 1, 486: 17, 487: 127, 488: 127,
		500: 41, 501: 79, 502: 38, 503: 41, 504: 102, 505: 127, 513: 127,
		600: 17, 603: 21, 604: 1, 606: 58,
		// Unlisted codes.
		499: 127, 599: 127, 699: 127, 200: 16,
	}
	for code, want := range cases {
		assert.Equal(t, want, Q850FromSIP(code), "SIP %d", code)
	}
}
