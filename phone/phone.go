// Package phone normalizes dialed numbers to E.164 (ITU-T E.164, the form
// SIP Request-URIs and webhooks carry) with nyaruka/phonenumbers, the Go port
// of Google's libphonenumber.
//
// Normalize deliberately checks that a number is *possible* (right length for
// its country, a country code that exists) rather than *valid* (assigned to a
// real numbering range). Validity metadata lags reality, rejects fictional
// test ranges such as the North American 555-01xx block (+1 xxx 555 01xx) and
// differs between library releases; the trunk is the authority on whether a
// number is reachable and says so with a SIP 404/484. A possible-number check
// plus a total-length check still rejects garbage, short codes and typos with
// missing digits.
package phone

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

const (
	// MaxInputLen bounds the human-typed input accepted by Normalize.
	MaxInputLen = 64
	// minE164Digits and maxE164Digits bound the digits of a normalized number
	// (country code included). E.164 §6.1 caps numbers at 15 digits; nothing
	// dialable internationally has fewer than 7.
	minE164Digits = 7
	maxE164Digits = 15
)

// Normalize parses a number typed by a person ("(415) 555-0100",
// "+44 20 7183 8750", "0044 20 7183 8750") and returns it in E.164
// ("+14155550100"). defaultRegion is the ISO 3166-1 alpha-2 country used for
// numbers written without a country code, and whose international call
// prefix ("00", "011", ...) is recognized. It may be empty only if the input
// starts with "+".
//
// Errors wrap ErrInvalidNumber and say why; they quote the input only when it
// is short enough to be a phone number.
func Normalize(input, defaultRegion string) (string, error) {
	s := strings.TrimSpace(input)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidNumber)
	case len(s) > MaxInputLen:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidNumber, MaxInputLen)
	}
	if !hasDigit(s) {
		return "", fmt.Errorf("%w: %q contains no digits", ErrInvalidNumber, s)
	}
	if bad, ok := foreignChar(s); ok {
		return "", fmt.Errorf("%w: %q contains %q, which is not part of a phone number", ErrInvalidNumber, s, bad)
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region != "" && !phonenumbers.GetSupportedRegions()[region] {
		return "", fmt.Errorf("%w: unknown default country %q (want an ISO 3166 code such as \"US\")", ErrInvalidNumber, defaultRegion)
	}
	if region == "" && !strings.HasPrefix(s, "+") {
		return "", fmt.Errorf("%w: %q has no country code and no default country is set", ErrInvalidNumber, s)
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrInvalidNumber, s, err)
	}
	if num.GetExtension() != "" {
		return "", fmt.Errorf("%w: %q has an extension, which cannot be dialed", ErrInvalidNumber, s)
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return "", fmt.Errorf("%w: %q is a local number; add the area code", ErrInvalidNumber, s)
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "", fmt.Errorf("%w: %q has an unknown country code", ErrInvalidNumber, s)
	case phonenumbers.TOO_SHORT:
		return "", fmt.Errorf("%w: %q is too short", ErrInvalidNumber, s)
	case phonenumbers.TOO_LONG:
		return "", fmt.Errorf("%w: %q is too long", ErrInvalidNumber, s)
	default:
		return "", fmt.Errorf("%w: %q does not have a possible length for its country", ErrInvalidNumber, s)
	}
	out := phonenumbers.Format(num, phonenumbers.E164)
	if !IsE164(out) {
		return "", fmt.Errorf("%w: %q does not form an E.164 number of %d to %d digits", ErrInvalidNumber, s, minE164Digits, maxE164Digits)
	}
	// The E.164 form must read back as itself; a few degenerate inputs
	// (national prefixes after a country code) do not, and such a number
	// would reach the trunk in a different form than the webhook reports.
	if back, err := phonenumbers.Parse(out, ""); err != nil || phonenumbers.Format(back, phonenumbers.E164) != out {
		return "", fmt.Errorf("%w: %q is ambiguous (its E.164 form %s does not read back the same)", ErrInvalidNumber, s, out)
	}
	return out, nil
}

// IsE164 reports whether s is syntactically an E.164 number as written in
// SIP and webhooks: "+", a non-zero first digit, 7 to 15 digits in all. It
// does not check that the country code exists (Normalize does).
func IsE164(s string) bool {
	if len(s) < 1+minE164Digits || len(s) > 1+maxE164Digits || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hasDigit(s string) bool {
	for _, r := range s {
		if r >= '0' && r <= '9' {
			return true
		}
	}
	return false
}

// foreignChar returns the first rune that has no place in a written phone
// number. Letters are allowed (vanity numbers, "ext."), as are the usual
// punctuation marks.
func foreignChar(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case strings.ContainsRune(" +-.()/\u00a0\t#*", r):
		default:
			return r, true
		}
	}
	return 0, false
}

// Region returns the ISO 3166 region a normalized E.164 number belongs to
// ("+18765550100" is "JM", not "US"), or the main region of its country
// code when the number's range is unknown (fictional 555-01xx numbers).
func Region(e164 string) (string, error) {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidNumber, err)
	}
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != "ZZ" && r != "001" {
		return r, nil
	}
	return phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())), nil
}
