package webhook

import (
	"net/url"
	"sort"
	"strings"
)

// Redacted replaces secrets in URLs shown to operators.
const Redacted = "REDACTED"

// RedactURL is raw with every query value and any user-info password
// replaced by REDACTED (a CRM's webhook URL often carries its token in the
// query), for the admin API and logs. Keys stay, so an operator can tell
// URLs apart. A URL that does not parse is redacted whole after its path.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i] + "?" + Redacted
		}
		return raw
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Redacted)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = Redacted
		} else {
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, 0, len(keys))
			for _, k := range keys {
				parts = append(parts, url.QueryEscape(k)+"="+Redacted)
			}
			u.RawQuery = strings.Join(parts, "&")
		}
	}
	u.Fragment = ""
	return u.String()
}
