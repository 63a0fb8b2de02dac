// Package routing decides where an outbound call goes: which route of the
// route table matches the destination, which of the route's trunks to try
// in which order, whether a failed attempt moves on to the next trunk
// (Classify), when a trunk is skipped (Breaker, OPTIONS health, max_calls),
// and which of a seat's numbers to present as caller id (PickCallerID).
//
// It knows nothing of SIP transactions: the bridge asks Plan for the
// trunks of a call, sends one INVITE per attempt, reports each outcome to
// the trunk's Breaker, and asks Classify whether to go on.
package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Route is one entry of the route table: a destination match and the
// trunks to try, in order.
type Route struct {
	// ID names the route in metrics, call records and the audit log.
	ID string `json:"id" yaml:"id"`
	// Country matches destinations in an ISO 3166-1 region ("GB", "CA").
	Country string `json:"country,omitempty" yaml:"country"`
	// Prefix matches E.164 destinations that start with it ("+44",
	// "+1212"); "+" alone matches every destination.
	Prefix string `json:"prefix,omitempty" yaml:"prefix"`
	// Trunks are tried in order; see Target.Weight.
	Trunks []Target `json:"trunks" yaml:"trunks"`
}

// Target is a trunk of a route.
type Target struct {
	Trunk string `json:"trunk" yaml:"trunk"`
	// Weight, when above 0, shares first attempts: consecutive targets
	// with a weight form a group whose order is drawn for each call, the
	// chance of coming first proportional to the weight. 0 keeps the
	// target at its place.
	Weight int `json:"weight,omitempty" yaml:"weight"`
}

// RouteProblem is a route that cannot be used: the field (as in a
// request body: "routes[1].trunks[0].trunk") and what is wrong. It
// matches ErrBadRoute.
type RouteProblem struct {
	Field, Message string
}

func (p RouteProblem) Error() string {
	return fmt.Sprintf("%s: %s: %s", ErrBadRoute, p.Field, p.Message)
}

// Unwrap returns ErrBadRoute.
func (p RouteProblem) Unwrap() error { return ErrBadRoute }

func problem(field, format string, args ...any) RouteProblem {
	return RouteProblem{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks a route; known, when not nil, says which trunk names
// exist. The error is a RouteProblem naming the field.
func (r Route) Validate(known func(string) bool) error {
	switch {
	case r.ID == "":
		return problem("id", "required")
	case r.Country == "" && r.Prefix == "":
		return problem("prefix", "set country or prefix (\"+\" matches every destination)")
	case r.Country != "" && r.Prefix != "":
		return problem("country", "set country or prefix, not both")
	case len(r.Trunks) == 0:
		return problem("trunks", "list at least one trunk")
	}
	if r.Country != "" && phonenumbers.GetCountryCodeForRegion(r.Country) == 0 {
		return problem("country", "%q is not an ISO 3166 region with a calling code (e.g. \"GB\")", r.Country)
	}
	if r.Prefix != "" && !validPrefix(r.Prefix) {
		return problem("prefix", "%q is not \"+\" followed by up to 15 digits", r.Prefix)
	}
	seen := map[string]bool{}
	for i, t := range r.Trunks {
		f := fmt.Sprintf("trunks[%d]", i)
		switch {
		case t.Trunk == "":
			return problem(f+".trunk", "required")
		case seen[t.Trunk]:
			return problem(f+".trunk", "%q listed twice", t.Trunk)
		case t.Weight < 0:
			return problem(f+".weight", "must not be negative")
		case known != nil && !known(t.Trunk):
			return problem(f+".trunk", "no trunk named %q", t.Trunk)
		}
		seen[t.Trunk] = true
	}
	return nil
}

func validPrefix(p string) bool {
	digits, ok := strings.CutPrefix(p, "+")
	if !ok || len(digits) > 15 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Table is a validated route table. It is immutable; a changed table is
// a new Table.
type Table struct {
	routes []Route
}

// NewTable validates routes (ids unique; known as for Route.Validate).
func NewTable(routes []Route, known func(string) bool) (*Table, error) {
	ids := map[string]bool{}
	for i, r := range routes {
		if err := r.Validate(known); err != nil {
			p := err.(RouteProblem)
			p.Field = fmt.Sprintf("routes[%d].%s", i, p.Field)
			return nil, p
		}
		if ids[r.ID] {
			return nil, problem(fmt.Sprintf("routes[%d].id", i), "%q used twice", r.ID)
		}
		ids[r.ID] = true
	}
	return &Table{routes: slices.Clone(routes)}, nil
}

// Routes returns the table's routes in order.
func (t *Table) Routes() []Route { return slices.Clone(t.routes) }

// rank orders matches: the longer the matched digits, the more specific.
// A country route ranks just above a prefix of its calling code, so "CA"
// beats "+1" and "+1416" beats "CA".
func rank(r Route, e164 string, region string) (int, bool) {
	if r.Prefix != "" {
		if !strings.HasPrefix(e164, r.Prefix) {
			return 0, false
		}
		return 2 * (len(r.Prefix) - 1), true
	}
	if !strings.EqualFold(r.Country, region) {
		return 0, false
	}
	cc := phonenumbers.GetCountryCodeForRegion(strings.ToUpper(r.Country))
	return 2*len(fmt.Sprint(cc)) + 1, true
}

// Region returns the ISO 3166 region of an E.164 number, "" when the
// numbering plan cannot tell. A number outside the assigned ranges (a
// test number) gets the main region of its calling code.
func Region(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != "ZZ" && r != "001" {
		return r
	}
	if r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())); r != "ZZ" && r != "001" {
		return r
	}
	return ""
}

// Match returns the most specific route for an E.164 destination; among
// equally specific routes, the first in the table.
func (t *Table) Match(e164 string) (Route, error) {
	region := Region(e164)
	best, bestRank := -1, -1
	for i, r := range t.routes {
		if k, ok := rank(r, e164, region); ok && k > bestRank {
			best, bestRank = i, k
		}
	}
	if best < 0 {
		return Route{}, fmt.Errorf("%w %s", ErrNoRoute, e164)
	}
	return t.routes[best], nil
}

// Order returns the route's trunk names in the order of this call's
// attempts: weighted groups drawn with rnd (nil = the global source).
func (r Route) Order(rnd *rand.Rand) []string {
	out := make([]string, 0, len(r.Trunks))
	for i := 0; i < len(r.Trunks); {
		if r.Trunks[i].Weight == 0 {
			out = append(out, r.Trunks[i].Trunk)
			i++
			continue
		}
		j := i
		for j < len(r.Trunks) && r.Trunks[j].Weight > 0 {
			j++
		}
		out = append(out, weightedOrder(r.Trunks[i:j], rnd)...)
		i = j
	}
	return out
}

// weightedOrder draws an order without replacement, each pick's chance
// proportional to its weight among those left.
func weightedOrder(group []Target, rnd *rand.Rand) []string {
	left := slices.Clone(group)
	out := make([]string, 0, len(group))
	for len(left) > 0 {
		total := 0
		for _, t := range left {
			total += t.Weight
		}
		var n int
		if rnd != nil {
			n = rnd.IntN(total)
		} else {
			n = rand.IntN(total)
		}
		k := 0
		for n >= left[k].Weight {
			n -= left[k].Weight
			k++
		}
		out = append(out, left[k].Trunk)
		left = slices.Delete(left, k, k+1)
	}
	return out
}
