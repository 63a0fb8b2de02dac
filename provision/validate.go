package provision

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/nyaruka/phonenumbers"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/phone"
)

// seatIDPattern is the file's rule for seat ids (docs/CONFIG.md): safe in
// URLs, logs and token subjects.
var seatIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// validateSeat checks a seat's settings; every problem names its field.
func validateSeat(s config.Seat, maxCallsGiven bool) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !seatIDPattern.MatchString(s.ID) {
		add("id", "%q: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", s.ID)
	}
	if s.SIPPassword != "" && s.SIPUsername == "" {
		add("sip_username", "required with sip_password")
	}
	regions := phonenumbers.GetSupportedRegions()
	switch {
	case s.Country == "":
		add("country", "required when the seat has no DIDs; an ISO 3166 code such as \"GB\"")
	case !regions[s.Country]:
		add("country", "%q is not an ISO 3166 region code (e.g. \"US\", \"GB\")", s.Country)
	}
	for i, c := range s.AllowedCountries {
		if !regions[c] {
			add(fmt.Sprintf("allowed_countries[%d]", i), "%q is not an ISO 3166 region code", c)
		}
	}
	if s.MaxCalls < 1 && maxCallsGiven {
		add("max_calls", "must be at least 1")
	}
	if s.CallsPerMinute < 0 {
		add("calls_per_minute", "must be 0 (the global limit) or positive")
	}
	if s.WebhookURL != "" {
		u, err := url.Parse(s.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("webhook_url", "%q is not an http(s) URL", s.WebhookURL)
		}
	}
	switch s.InboundFallback {
	case "", config.FallbackBusy, config.FallbackUnavailable:
	case config.FallbackForward:
		if !phone.IsE164(s.InboundForwardTo) {
			add("inbound_forward_to", "%q: the forward fallback needs an E.164 number", s.InboundForwardTo)
		}
	case config.FallbackSeats:
		if len(s.InboundHunt) == 0 {
			add("inbound_hunt", "the seats fallback needs at least one seat id")
		}
	default:
		add("inbound_fallback", "%q: want busy, unavailable, forward or seats", s.InboundFallback)
	}
	return ps
}

func validateDIDs(dids []string) []Problem {
	var ps []Problem
	seen := map[string]bool{}
	for i, n := range dids {
		switch {
		case !phone.IsE164(n):
			ps = append(ps, Problem{fmt.Sprintf("dids[%d]", i), fmt.Sprintf("%q is not E.164 (+ country code and number, no spaces, e.g. \"+442071838750\")", n)})
		case seen[n]:
			ps = append(ps, Problem{fmt.Sprintf("dids[%d]", i), n + " listed twice"})
		}
		seen[n] = true
	}
	return ps
}
