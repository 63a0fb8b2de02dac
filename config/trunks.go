package config

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/nyaruka/phonenumbers"
)

// Trunk is one SIP trunk calls may leave through (trunks:). The single
// sip.trunk is the shorthand of one trunk named "default" that takes the
// rest of its settings from sip.* (Config.TrunkList).
type Trunk struct {
	// Name identifies the trunk in routes, metrics, call records and the API.
	Name string `yaml:"name" json:"name"`
	// Address is the SIP URI INVITEs are sent to (the trunk or its outbound proxy).
	Address string `yaml:"address" json:"address"`
	// Transport is udp, tcp or tls; default the address's transport= parameter, else udp.
	Transport string `yaml:"transport" json:"transport,omitempty"`
	// TLS configures a tls transport; empty fields take sip.tls's.
	TLS SIPTLS `yaml:"tls" json:"tls,omitzero"`
	// Credentials says whose digest credentials answer the trunk's 401/407:
	// "seat" (each seat's sip_username/sip_password, the default) or "trunk"
	// (Username/Password below, for every seat).
	Credentials string `yaml:"credentials" json:"credentials,omitempty"`
	// Username and Password are the trunk's own digest credentials.
	Username string `yaml:"username" json:"username,omitempty"`
	Password string `yaml:"password" json:"-"`
	// Codecs is the offer order toward this trunk; default sip.codecs.
	Codecs []string `yaml:"codecs" json:"codecs,omitempty"`
	// MaxCalls caps the trunk's simultaneous calls; 0 = unlimited. A full
	// trunk is skipped like a down one.
	MaxCalls int `yaml:"max_calls" json:"max_calls,omitempty"`
	// OptionsInterval probes the trunk with OPTIONS; 0 = never; default sip.options_interval.
	OptionsInterval *time.Duration `yaml:"options_interval" json:"options_interval,omitempty"`
	// Identity sets the caller identity headers of INVITEs to this trunk.
	Identity TrunkIdentity `yaml:"identity" json:"identity,omitzero"`
	// Headers are extra INVITE headers; values are Go templates over
	// .Seat, .CallerID, .To, .CallID, .Trunk.
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
}

// TrunkIdentity says how the caller's identity is written in INVITEs.
type TrunkIdentity struct {
	// Header adds the caller id as "pai" (P-Asserted-Identity, RFC 3325
	// §9.1), "ppi" (P-Preferred-Identity, §9.2) or "" (none).
	Header string `yaml:"header" json:"header,omitempty"`
	// Privacy is the Privacy header's value (RFC 3323 §4.2, RFC 3325 §9.3):
	// "none", "id", "header", "user" or a ";"-list; "" = no header.
	Privacy string `yaml:"privacy" json:"privacy,omitempty"`
	// FromHost is the host of From (and of P-*-Identity); default sip.domain.
	FromHost string `yaml:"from_host" json:"from_host,omitempty"`
	// UserPhone adds ;user=phone to the Request-URI, To, From and
	// P-*-Identity (RFC 3261 §19.1.1), which some carriers require.
	UserPhone bool `yaml:"user_phone" json:"user_phone,omitempty"`
}

// Route is an entry of the route table (routes:): a destination match
// and the trunks to try in order.
type Route struct {
	// ID names the route.
	ID string `yaml:"id" json:"id"`
	// Country matches destinations in an ISO 3166 region; Prefix those
	// whose E.164 form starts with it ("+" = every destination). One of the two.
	Country string `yaml:"country" json:"country,omitempty"`
	Prefix  string `yaml:"prefix" json:"prefix,omitempty"`
	// Trunks are tried in order; see RouteTarget.Weight.
	Trunks []RouteTarget `yaml:"trunks" json:"trunks"`
}

// RouteTarget is a trunk of a route.
type RouteTarget struct {
	Trunk string `yaml:"trunk" json:"trunk"`
	// Weight > 0 shares first attempts among consecutive weighted trunks.
	Weight int `yaml:"weight" json:"weight,omitempty"`
}

// Provisioning says how the file's seats, trunks and routes meet the ones
// the provisioning API stores.
type Provisioning struct {
	// ConfigSeats is "declarative" (the file's seats are written to the
	// store at start and the API may not change them) or "bootstrap" (the
	// file's seats are written only where the store has no seat of that
	// id; from then on the API owns them).
	ConfigSeats string `yaml:"config_seats"`
	// PollInterval is how often a node checks the store for directory
	// changes made through another node.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Provisioning defaults and values.
const (
	ConfigSeatsDeclarative = "declarative"
	ConfigSeatsBootstrap   = "bootstrap"
	// DefaultPollInterval is provisioning.poll_interval.
	DefaultPollInterval = time.Second
	// DefaultTrunkName names the trunk of the sip.trunk shorthand.
	DefaultTrunkName = "default"
	// CredentialsSeat and CredentialsTrunk are trunks[].credentials.
	CredentialsSeat  = "seat"
	CredentialsTrunk = "trunk"
)

// setProvisioningDefaults is SetDefaults for the keys of this file.
func (c *Config) setProvisioningDefaults() {
	setStr(&c.Provisioning.ConfigSeats, ConfigSeatsDeclarative)
	setDur(&c.Provisioning.PollInterval, DefaultPollInterval)
	for i := range c.Trunks {
		t := &c.Trunks[i]
		setStr(&t.Credentials, CredentialsSeat)
		for j, name := range t.Codecs {
			t.Codecs[j] = strings.ToUpper(strings.TrimSpace(name))
		}
	}
}

// TrunkList returns the trunks calls may use: trunks:, or the sip.trunk
// shorthand as one trunk named "default"; each with sip.*'s codecs, TLS
// files and OPTIONS interval where it sets none.
func (c *Config) TrunkList() []Trunk {
	list := c.Trunks
	if len(list) == 0 && c.SIP.Trunk != "" {
		list = []Trunk{{Name: DefaultTrunkName, Address: c.SIP.Trunk, Credentials: CredentialsSeat}}
	}
	out := make([]Trunk, len(list))
	for i, t := range list {
		out[i] = c.TrunkDefaults(t)
	}
	return out
}

// TrunkDefaults fills what t leaves unset from sip.*.
func (c *Config) TrunkDefaults(t Trunk) Trunk {
	if len(t.Codecs) == 0 {
		t.Codecs = append([]string(nil), c.SIP.Codecs...)
	}
	if t.OptionsInterval == nil {
		d := c.SIP.OptionsInterval
		t.OptionsInterval = &d
	}
	setStr(&t.TLS.CAFile, c.SIP.TLS.CAFile)
	setStr(&t.TLS.CertFile, c.SIP.TLS.CertFile)
	setStr(&t.TLS.KeyFile, c.SIP.TLS.KeyFile)
	setStr(&t.Identity.FromHost, c.SIP.Domain)
	setStr(&t.Credentials, CredentialsSeat)
	return t
}

// validName keeps trunk and route names safe in URLs and metric labels.
func validName(s string) bool { return seatIDPattern.MatchString(s) }

var privacyValues = map[string]bool{"none": true, "id": true, "header": true, "user": true, "session": true, "critical": true}

// ValidateTrunk checks one trunk and returns its problems, each naming
// its field under key (e.g. "trunks[0]"); the API uses it too.
func ValidateTrunk(key string, t Trunk) Problems {
	var v validator
	if !validName(t.Name) {
		v.add(key+".name", "%q: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", t.Name)
	}
	var u sip.Uri
	switch {
	case t.Address == "":
		v.add(key+".address", "not set; give the trunk's SIP URI, e.g. \"sip:sbc.carrier.example:5060\"")
	case sip.ParseUri(t.Address, &u) != nil:
		v.add(key+".address", "%q does not parse as a SIP URI (RFC 3261 §19.1)", t.Address)
	case u.Scheme != "sip" && u.Scheme != "sips":
		v.add(key+".address", "%q: scheme must be sip or sips", t.Address)
	case u.Host == "":
		v.add(key+".address", "%q has no host", t.Address)
	}
	switch strings.ToLower(t.Transport) {
	case "", "udp", "tcp", "tls":
	default:
		v.add(key+".transport", "%q is not one of udp, tcp, tls", t.Transport)
	}
	switch t.Credentials {
	case "", CredentialsSeat:
	case CredentialsTrunk:
		if t.Username == "" {
			v.add(key+".username", "credentials is trunk but username is empty")
		}
	default:
		v.add(key+".credentials", "%q is not seat or trunk", t.Credentials)
	}
	if t.Password != "" && t.Username == "" {
		v.add(key+".password", "set but username is empty")
	}
	seen := map[string]bool{}
	for i, name := range t.Codecs {
		name = strings.ToUpper(name)
		switch {
		case name != CodecPCMU && name != CodecPCMA:
			v.add(fmt.Sprintf("%s.codecs[%d]", key, i), "unknown codec %q; the SIP leg speaks PCMU and PCMA", name)
		case seen[name]:
			v.add(fmt.Sprintf("%s.codecs[%d]", key, i), "%s listed twice", name)
		}
		seen[name] = true
	}
	if t.MaxCalls < 0 {
		v.add(key+".max_calls", "must be 0 (unlimited) or positive")
	}
	if t.OptionsInterval != nil && *t.OptionsInterval < 0 {
		v.add(key+".options_interval", "must be 0 (off) or positive, e.g. 30s")
	}
	switch t.Identity.Header {
	case "", "pai", "ppi":
	default:
		v.add(key+".identity.header", "%q is not pai, ppi or empty", t.Identity.Header)
	}
	if t.Identity.Privacy != "" {
		for _, p := range strings.Split(t.Identity.Privacy, ";") {
			if !privacyValues[strings.TrimSpace(p)] {
				v.add(key+".identity.privacy", "%q: %q is not an RFC 3323 privacy value (none, id, header, user, session, critical)", t.Identity.Privacy, p)
			}
		}
	}
	if h := t.Identity.FromHost; h != "" && strings.ContainsAny(h, " \t@:;/<>") {
		v.add(key+".identity.from_host", "%q is not a host name", h)
	}
	for name, val := range t.Headers {
		hk := fmt.Sprintf("%s.headers.%s", key, name)
		switch {
		case !sipHeaderName.MatchString(name):
			v.add(hk, "not a header name")
		case reservedSIPHeaders[strings.ToLower(name)]:
			v.add(hk, "the bridge writes this header itself")
		case strings.ContainsAny(val, "\r\n"):
			v.add(hk, "value contains a line break")
		}
		if _, err := template.New(name).Option("missingkey=error").Parse(val); err != nil {
			v.add(hk, "template: %v", err)
		}
	}
	return v
}

// sipHeaderName is an RFC 3261 §25.1 token.
var sipHeaderName = regexp.MustCompile("^[!%'*+.^_`|~0-9A-Za-z-]+$")

// reservedSIPHeaders are written by the bridge and cannot be set in trunks[].headers.
var reservedSIPHeaders = map[string]bool{
	"via": true, "from": true, "to": true, "call-id": true, "cseq": true, "contact": true, "max-forwards": true,
	"content-type": true, "content-length": true, "authorization": true, "proxy-authorization": true,
	"route": true, "record-route": true, "p-asserted-identity": true, "p-preferred-identity": true, "privacy": true,
}

// ValidateRoute checks one route against the trunk names known; problems
// name the field under key.
func ValidateRoute(key string, r Route, known func(string) bool) Problems {
	var v validator
	if !validName(r.ID) {
		v.add(key+".id", "%q: use 1-64 letters, digits, '.', '_', '@' or '-'", r.ID)
	}
	switch {
	case r.Country == "" && r.Prefix == "":
		v.add(key+".prefix", "set country or prefix (\"+\" matches every destination)")
	case r.Country != "" && r.Prefix != "":
		v.add(key+".country", "set country or prefix, not both")
	case r.Country != "" && phonenumbers.GetCountryCodeForRegion(strings.ToUpper(r.Country)) == 0:
		v.add(key+".country", "%q is not an ISO 3166 region code with a calling code (e.g. \"GB\")", r.Country)
	case r.Prefix != "" && !routePrefix(r.Prefix):
		v.add(key+".prefix", "%q: want \"+\" alone or + and 1 to 14 digits, e.g. \"+44\"", r.Prefix)
	}
	if len(r.Trunks) == 0 {
		v.add(key+".trunks", "empty; list at least one trunk")
	}
	seen := map[string]bool{}
	for i, t := range r.Trunks {
		tk := fmt.Sprintf("%s.trunks[%d]", key, i)
		switch {
		case t.Trunk == "":
			v.add(tk+".trunk", "not set")
		case known != nil && !known(t.Trunk):
			v.add(tk+".trunk", "no trunk named %q", t.Trunk)
		case seen[t.Trunk]:
			v.add(tk+".trunk", "%q listed twice", t.Trunk)
		}
		if t.Weight < 0 {
			v.add(tk+".weight", "must not be negative")
		}
		seen[t.Trunk] = true
	}
	return v
}

// routePrefix is "+" alone (every destination) or an E.164 prefix.
func routePrefix(p string) bool { return p == "+" || e164Prefix.MatchString(p) }

// validateTrunks checks trunks:, routes: and provisioning:.
func (c *Config) validateTrunks(v *validator) {
	if len(c.Trunks) > 0 && c.SIP.Trunk != "" {
		v.add("sip.trunk", "set together with trunks:; sip.trunk is the shorthand of one trunk, use one or the other")
	}
	names := map[string]int{}
	for i, t := range c.Trunks {
		key := fmt.Sprintf("trunks[%d]", i)
		*v = append(*v, ValidateTrunk(key, t)...)
		if j, dup := names[t.Name]; dup && t.Name != "" {
			v.add(key+".name", "%q is also trunks[%d]'s name", t.Name, j)
		}
		names[t.Name] = i
	}
	known := map[string]bool{}
	for _, t := range c.TrunkList() {
		known[t.Name] = true
	}
	ids := map[string]int{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		*v = append(*v, ValidateRoute(key, r, func(n string) bool { return known[n] })...)
		if j, dup := ids[r.ID]; dup && r.ID != "" {
			v.add(key+".id", "%q is also routes[%d]'s id", r.ID, j)
		}
		ids[r.ID] = i
	}
	switch c.Provisioning.ConfigSeats {
	case ConfigSeatsDeclarative, ConfigSeatsBootstrap:
	default:
		v.add("provisioning.config_seats", "%q is not declarative or bootstrap", c.Provisioning.ConfigSeats)
	}
	if c.Provisioning.PollInterval <= 0 || c.Provisioning.PollInterval > time.Minute {
		v.add("provisioning.poll_interval", "%s: want between 1ms and 1m, e.g. 1s", c.Provisioning.PollInterval)
	}
}
