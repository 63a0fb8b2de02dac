package bridge

import (
	"fmt"
	"slices"
	"strings"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/phone"
)

// ErrEmergencyNotSupported refuses an emergency number under
// dialing.emergency: refuse (the default).
var ErrEmergencyNotSupported = &Error{"emergency_not_supported",
	"emergency calls are not supported from this softphone; use a phone line that provides emergency service"}

// numberTypeAllowed refuses high-risk number types (premium rate, shared
// cost, satellite and non-geographic, unknown) unless
// dialing.allowed_number_types lists them.
func (b *Bridge) numberTypeAllowed(to string) error {
	typ := phone.NumberType(to)
	if typ == "" || slices.Contains(b.cfg.Dialing.AllowedNumberTypes, typ) {
		return nil
	}
	return fmt.Errorf("%w: %s is a number of type %s; dialing.allowed_number_types does not list %s",
		ErrDestinationNotAllow, to, strings.ReplaceAll(typ, "_", "-"), typ)
}

// regionAllowed refuses the high-risk regions of phone.HighRiskRegions
// unless the seat's (or dialing's) allowed_countries names them.
func regionAllowed(region string, allowed []string) error {
	if !slices.Contains(phone.HighRiskRegions, region) {
		return nil
	}
	for _, a := range allowed {
		if strings.EqualFold(a, region) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is on the high-risk country list; list it in allowed_countries to call it", ErrDestinationNotAllow, region)
}

// emergency is the dialed emergency number of req and whether to dial it:
// "" when req.To is none; an error under dialing.emergency: refuse.
func (b *Bridge) emergency(req CallRequest) (string, error) {
	n := phone.EmergencyNumber(req.To, req.Auth.Seat.Country)
	if n == "" {
		return "", nil
	}
	if b.cfg.Dialing.Emergency != config.EmergencyDial {
		return "", fmt.Errorf("%w (%s)", ErrEmergencyNotSupported, n)
	}
	return n, nil
}
