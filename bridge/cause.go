package bridge

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/record"
)

// ReasonQ850 extracts the Q.850 cause and text from Reason headers
// (RFC 3326 §2, RFC 6432 for responses). ok is false when the message
// carries no Q.850 Reason.
func ReasonQ850(msg sip.Message) (cause int, text string, ok bool) {
	for _, h := range msg.GetHeaders("Reason") {
		for _, v := range splitReasons(h.Value()) {
			c, t, isQ850 := parseReason(v)
			if isQ850 {
				return c, t, true
			}
		}
	}
	return 0, "", false
}

// splitReasons splits a Reason header value at commas outside quotes.
func splitReasons(v string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// parseReason parses `Q.850 ;cause=16 ;text="Normal call clearing"`.
func parseReason(v string) (int, string, bool) {
	parts := strings.Split(v, ";")
	if len(parts) == 0 || !strings.EqualFold(strings.TrimSpace(parts[0]), "Q.850") {
		return 0, "", false
	}
	cause, text, found := 0, "", false
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "cause":
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n <= 0 || n > 127 {
				return 0, "", false
			}
			cause, found = n, true
		case "text":
			text = strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	if text == "" && found {
		text = record.Q850Text(cause)
	}
	return cause, text, found
}

// causeFromResponse builds the cause of a call ended by a final non-2xx
// response: a Q.850 Reason if the peer sent one (RFC 6432), else RFC 3398.
func causeFromResponse(res *sip.Response, by string) record.Cause {
	c := record.Cause{SIPCode: res.StatusCode, By: by}
	if q, text, ok := ReasonQ850(res); ok {
		c.Q850, c.Reason = q, text
		return c
	}
	c.Q850 = record.Q850FromSIP(res.StatusCode)
	c.Reason = res.Reason
	if c.Reason == "" {
		c.Reason = record.Q850Text(c.Q850)
	}
	return c
}
