package backend

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/callbridge/callbridge/config"
)

// CheckConfig validates the store.* keys, for config.Validate.
func CheckConfig(c *config.Config, v *config.Problems) {
	if _, err := Check(c.Store.DSN); err != nil {
		v.Add("store.dsn", "%v", err)
	}
	if id := c.Store.NodeID; id != "" && !nodeIDPattern.MatchString(id) {
		v.Add("store.node_id", "%q: want 1-64 letters, digits, '.', '_', ':' or '-'", id)
	}
}

// nodeIDPattern is what store.node_id may be: it shows in logs and in the
// store's rows.
var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// SQLitePath returns the file path of an "sqlite://path" DSN
// ("sqlite:///abs/path.db" is absolute, "sqlite://rel.db" relative to the
// working directory; "sqlite://:memory:" is an in-memory store). Other
// DSNs, PostgreSQL's included, are an error: open those with
// backend.Open.
func SQLitePath(dsn string) (string, error) {
	kind, err := Check(dsn)
	if err != nil {
		return "", err
	}
	if kind != SQLite {
		return "", fmt.Errorf("%w: %s is not an sqlite:// DSN", ErrBadDSN, kind)
	}
	return strings.TrimPrefix(dsn, "sqlite://"), nil
}
