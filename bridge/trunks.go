package bridge

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/routing"
)

// Router says where a call to an E.164 number goes: the route's id and
// its trunks in the order of this call's attempts. cmd/bridge routes by
// the live directory; without WithRouter, by the file's trunks and routes.
type Router func(e164 string) (route string, trunks []config.Trunk, err error)

// WithRouter sets how calls choose their trunks.
func WithRouter(r Router) Option { return func(b *Bridge) { b.router = r } }

// WithRouteMetrics counts attempts per trunk and route (routing.Metrics).
func WithRouteMetrics(m *routing.Metrics) Option { return func(b *Bridge) { b.routeMetrics = m } }

// fileRouter routes by the configuration file: trunks (or sip.trunk) and
// routes; without routes every call goes to the first trunk.
func fileRouter(cfg *config.Config) (Router, error) {
	trunks := cfg.TrunkList()
	byName := map[string]config.Trunk{}
	for _, t := range trunks {
		byName[t.Name] = t
	}
	routes := make([]routing.Route, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = routing.Route{ID: r.ID, Country: r.Country, Prefix: r.Prefix}
		for _, t := range r.Trunks {
			routes[i].Trunks = append(routes[i].Trunks, routing.Target{Trunk: t.Trunk, Weight: t.Weight})
		}
	}
	table, err := routing.NewTable(routes, func(n string) bool { _, ok := byName[n]; return ok })
	if err != nil {
		return nil, err
	}
	return func(e164 string) (string, []config.Trunk, error) {
		if len(routes) == 0 {
			if len(trunks) == 0 {
				return "", nil, routing.ErrNoTrunk
			}
			return "default", trunks[:1], nil
		}
		r, err := table.Match(e164)
		if err != nil {
			return "", nil, err
		}
		var out []config.Trunk
		for _, n := range r.Order(nil) {
			out = append(out, byName[n])
		}
		return r.ID, out, nil
	}, nil
}

// trunkTarget is a trunk as the SIP leg dials it.
type trunkTarget struct {
	name      string
	uri       sip.Uri // where the INVITE goes (trunk or outbound proxy)
	transport string
	domain    string // host of the Request-URI and To
	identity  *Identity
	cred      *sipCredentials // the trunk's own; nil = the seat's
}

// target prepares a trunk for dialing. The shorthand trunk keeps
// sip.domain as the Request-URI host (an outbound proxy when it differs);
// a trunk of trunks: is addressed directly.
func (b *Bridge) target(t config.Trunk) (*trunkTarget, error) {
	var u sip.Uri
	if err := sip.ParseUri(t.Address, &u); err != nil {
		return nil, fmt.Errorf("trunk %s: address %q: %w", t.Name, t.Address, err)
	}
	tt := &trunkTarget{name: t.Name, uri: u, transport: "udp", domain: u.Host}
	if v, ok := u.UriParams.Get("transport"); ok && v != "" {
		tt.transport = strings.ToLower(v)
	}
	if t.Transport != "" {
		tt.transport = strings.ToLower(t.Transport)
	}
	if len(b.cfg.Trunks) == 0 && t.Name == config.DefaultTrunkName {
		tt.domain = b.domain
	}
	id, err := NewIdentity(t)
	if err != nil {
		return nil, err
	}
	tt.identity = id
	if t.Credentials == config.CredentialsTrunk {
		tt.cred = &sipCredentials{t.Username, t.Password}
	}
	if _, seen := b.learnedHosts.LoadOrStore(u.Host, true); !seen {
		b.learnTrunkHost(u.Host) // its responses and requests are then accepted
	}
	return tt, nil
}
