package bridge

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/config"
)

// TrunkHeaderData is what trunks[].headers templates see.
type TrunkHeaderData struct {
	// Seat is the calling seat's id.
	Seat string
	// CallerID is the presented number (E.164), To the destination (E.164).
	CallerID, To string
	// CallID is the bridge's call id (the webhook's call_id).
	CallID string
	// Trunk is the trunk's name.
	Trunk string
}

// Identity is how a trunk wants the caller's identity written into an
// INVITE (trunks[].identity, trunks[].headers), ready to apply.
type Identity struct {
	trunk   config.Trunk
	headers map[string]*template.Template // by header name
	names   []string                      // header names in order
}

// NewIdentity compiles a trunk's identity options and header templates.
func NewIdentity(t config.Trunk) (*Identity, error) {
	id := &Identity{trunk: t, headers: map[string]*template.Template{}}
	for name, val := range t.Headers {
		tpl, err := template.New(name).Option("missingkey=error").Parse(val)
		if err != nil {
			return nil, fmt.Errorf("trunk %s: headers.%s: %w", t.Name, name, err)
		}
		id.headers[name] = tpl
		id.names = append(id.names, name)
	}
	sort.Strings(id.names)
	return id, nil
}

// FromHost returns the host of From: identity.from_host, else fallback
// (sip.domain).
func (id *Identity) FromHost(fallback string) string {
	if id.trunk.Identity.FromHost != "" {
		return id.trunk.Identity.FromHost
	}
	return fallback
}

// userPhone adds ;user=phone (RFC 3261 §19.1.1) to u when the trunk asks
// for it and u's user part is a telephone number.
func (id *Identity) userPhone(u *sip.Uri) {
	if !id.trunk.Identity.UserPhone || !strings.HasPrefix(u.User, "+") {
		return
	}
	if u.UriParams == nil {
		u.UriParams = sip.NewParams()
	}
	u.UriParams.Add("user", "phone")
}

// Apply writes the identity into an INVITE: From's host and user=phone,
// user=phone on the Request-URI and To, P-Asserted-Identity or
// P-Preferred-Identity (RFC 3325 §9) with the caller id, Privacy (RFC 3323
// §4.2), then the extra headers rendered with data. From and To must be
// set on req. domain is the fallback From host (sip.domain).
func (id *Identity) Apply(req *sip.Request, domain string, data TrunkHeaderData) error {
	from := req.From()
	if from == nil {
		return fmt.Errorf("bridge: identity: request without From")
	}
	from.Address.Host = id.FromHost(domain)
	from.Address.Port = 0
	id.userPhone(&from.Address)
	if to := req.To(); to != nil {
		id.userPhone(&to.Address)
	}
	id.userPhone(&req.Recipient)

	asserted := sip.Uri{Scheme: "sip", User: data.CallerID, Host: id.FromHost(domain)}
	id.userPhone(&asserted)
	switch id.trunk.Identity.Header {
	case "pai":
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<"+asserted.String()+">"))
	case "ppi":
		req.AppendHeader(sip.NewHeader("P-Preferred-Identity", "<"+asserted.String()+">"))
	}
	if p := id.trunk.Identity.Privacy; p != "" {
		req.AppendHeader(sip.NewHeader("Privacy", p))
	}
	for _, name := range id.names {
		var b bytes.Buffer
		if err := id.headers[name].Execute(&b, data); err != nil {
			return fmt.Errorf("trunk %s: headers.%s: %w", id.trunk.Name, name, err)
		}
		v := b.String()
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("trunk %s: headers.%s: the rendered value has a line break", id.trunk.Name, name)
		}
		req.AppendHeader(sip.NewHeader(name, v))
	}
	return nil
}
