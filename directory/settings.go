package directory

import (
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/routing"
)

// SeatSettings is a seat's settings JSON in the store: everything but its
// id, disabled flag and DIDs, which have columns and rows of their own.
// It holds the SIP password; it is never returned by the API.
type SeatSettings struct {
	SIPUsername      string   `json:"sip_username,omitempty"`
	SIPPassword      string   `json:"sip_password,omitempty"`
	Country          string   `json:"country,omitempty"`
	AllowedCountries []string `json:"allowed_countries,omitempty"`
	MaxCalls         int      `json:"max_calls,omitempty"`
	CallsPerMinute   int      `json:"calls_per_minute,omitempty"`
	WebhookURL       string   `json:"webhook_url,omitempty"`
	InboundFallback  string   `json:"inbound_fallback,omitempty"`
	InboundForwardTo string   `json:"inbound_forward_to,omitempty"`
	InboundHunt      []string `json:"inbound_hunt,omitempty"`
}

func settingsOf(s config.Seat) SeatSettings {
	return SeatSettings{
		SIPUsername: s.SIPUsername, SIPPassword: s.SIPPassword, Country: s.Country,
		AllowedCountries: s.AllowedCountries, MaxCalls: s.MaxCalls, CallsPerMinute: s.CallsPerMinute,
		WebhookURL: s.WebhookURL, InboundFallback: s.InboundFallback,
		InboundForwardTo: s.InboundForwardTo, InboundHunt: s.InboundHunt,
	}
}

func (set SeatSettings) seat(id string, disabled bool) config.Seat {
	s := config.Seat{
		ID: id, Disabled: disabled, SIPUsername: set.SIPUsername, SIPPassword: set.SIPPassword,
		Country: set.Country, AllowedCountries: set.AllowedCountries, MaxCalls: set.MaxCalls,
		CallsPerMinute: set.CallsPerMinute, WebhookURL: set.WebhookURL, InboundFallback: set.InboundFallback,
		InboundForwardTo: set.InboundForwardTo, InboundHunt: set.InboundHunt,
	}
	if s.MaxCalls == 0 {
		s.MaxCalls = config.DefaultSeatMaxCalls
	}
	return s
}

// seatDetail is a seat for the audit log: settings without the password.
func seatDetail(s config.Seat) map[string]any {
	set := settingsOf(s)
	set.SIPPassword = ""
	return map[string]any{"settings": set, "caller_ids": s.CallerIDs, "disabled": s.Disabled, "sip_password_set": s.SIPPassword != ""}
}

// StoredTrunk is a trunk's settings JSON in the store, password included.
type StoredTrunk struct {
	config.Trunk
	Password string `json:"password,omitempty"`
}

func storedTrunkOf(t config.Trunk) StoredTrunk { return StoredTrunk{Trunk: t, Password: t.Password} }

func (s StoredTrunk) trunk() config.Trunk {
	t := s.Trunk
	t.Password = s.Password
	return t
}

// TrunkView is a trunk as the API and the audit log show it: the
// password is never returned, only whether one is set.
type TrunkView struct {
	config.Trunk
	PasswordSet bool `json:"password_set"`
}

// NewTrunkView returns the view of t.
func NewTrunkView(t config.Trunk) TrunkView {
	return TrunkView{Trunk: t, PasswordSet: t.Password != ""}
}

// RouteOf converts a route of the file.
func RouteOf(r config.Route) routing.Route {
	out := routing.Route{ID: r.ID, Country: r.Country, Prefix: r.Prefix, Trunks: make([]routing.Target, len(r.Trunks))}
	for i, t := range r.Trunks {
		out.Trunks[i] = routing.Target{Trunk: t.Trunk, Weight: t.Weight}
	}
	return out
}
