package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// HighRiskRegions are the ISO 3166 regions refused by default (SECURITY.md,
// "Dialing"): countries under comprehensive sanctions, and destinations
// carriers' fraud reports name again and again for international revenue
// share fraud (small networks with high termination rates). A region is
// dialed only when listed in dialing.allowed_countries or the seat's
// allowed_countries.
var HighRiskRegions = []string{
	"CU", "IR", "KP", "SY", // sanctions
	"CF", "CK", "DG", "ER", "GN", "GW", "LR", "NR", "NU", "PG", // revenue-share fraud
	"SB", "SH", "SL", "SO", "TD", "TK", "TV",
}

// NumberType is the class of a normalized number as the high-risk policy
// sees it: "premium_rate", "shared_cost", "satellite", "unknown", or ""
// for every other type (fixed line, mobile, toll free, VoIP ...).
func NumberType(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "unknown"
	}
	// Non-geographic country codes (+870 Inmarsat, +881 GMSS, +882/+883
	// international networks): satellite phones and carrier ranges.
	if phonenumbers.GetRegionCodeForNumber(num) == "001" || phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())) == "001" {
		return "satellite"
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.PREMIUM_RATE:
		return "premium_rate"
	case phonenumbers.SHARED_COST:
		return "shared_cost"
	case phonenumbers.UNKNOWN:
		return "unknown"
	}
	return ""
}

// fixedEmergency are emergency numbers refused or routed whatever the
// seat's country: 911 (North America), 112 (GSM, EU), 999 (UK), 000 (AU).
var fixedEmergency = []string{"911", "112", "999", "000"}

// EmergencyNumber returns the digits of input when it is an emergency
// number (the fixed set, or one libphonenumber's short-number data lists
// for region), else "". Input in international form (+...) never is.
func EmergencyNumber(input, region string) string {
	s := strings.TrimSpace(input)
	if s == "" || strings.HasPrefix(s, "+") || len(s) > 16 {
		return ""
	}
	var digits strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return ""
		}
	}
	d := digits.String()
	if d == "" || len(d) > 6 {
		return ""
	}
	for _, e := range fixedEmergency {
		if d == e {
			return d
		}
	}
	if region != "" && phonenumbers.IsEmergencyNumber(d, strings.ToUpper(region)) {
		return d
	}
	return ""
}
