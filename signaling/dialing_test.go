package signaling_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/demotrunk"
)

// The default dialing policy refuses high-risk number types and
// countries, and emergency numbers, before any INVITE.
func TestDefaultDialingPolicy(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Dialing.AllowedNumberTypes = nil // the defaults
		c.Dialing.CallsPerMinute = 0
		c.Seats[0].Country = "US"
	})
	c := e.client(t)
	for _, tc := range []struct{ name, to, code, says string }{
		{"US premium rate", "+1 900 225 5288", "destination_not_allowed", "premium-rate"},
		{"UK premium rate", "+44 909 879 0000", "destination_not_allowed", "premium-rate"},
		{"Spanish shared cost", "+34 901 123 456", "destination_not_allowed", "shared-cost"},
		{"satellite", "+881 6 3212 3456", "destination_not_allowed", "satellite"},
		{"unknown (fictional range)", "+1 555 010 0002", "destination_not_allowed", "unknown"},
		{"high-risk country", "+53 5 123 4567", "destination_not_allowed", "high-risk"},
		{"911", "911", "emergency_not_supported", "emergency"},
		{"112", "112", "emergency_not_supported", "emergency"},
		{"999", "9 9 9", "emergency_not_supported", "emergency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": tc.name, "to": tc.to}))
			er, err := c.NextError(ctxT(t, 5*time.Second))
			require.NoError(t, err)
			assert.Equal(t, tc.code, er.Code, er.Message)
			assert.Contains(t, er.Message, tc.says)
		})
	}
	assert.Empty(t, e.trunk.Calls(), "nothing reached the trunk")
}

// A high-risk country is dialed once allowed_countries lists it, an
// unknown-type number once allowed_number_types does.
func TestDialingPolicyAllowances(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Dialing.AllowedNumberTypes = nil
		c.Seats[0].AllowedCountries = []string{"CU"}
	})
	c := e.client(t)
	require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": "cu", "to": "+53 5 123 4567"}))
	ss := states(t, c, "dialing")
	assert.Equal(t, "dialing", ss[0].State, "a listed high-risk country is dialed")
	_, err := e.trunk.WaitCall(ctxT(t, 10*time.Second), func(r demotrunk.CallRecord) bool { return r.ToUser == "+5351234567" })
	require.NoError(t, err)
}

// dialing.emergency: dial sends the number as dialed to the trunk, past
// the call rate.
func TestEmergencyDialRule(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Dialing.Emergency = config.EmergencyDial
		c.Dialing.CallsPerMinute = 1
	})
	c := e.client(t)
	for i, to := range []string{"911", "9-1-1"} {
		require.NoError(t, c.Send(map[string]any{"type": "call", "request_id": to, "to": to}))
		ss := states(t, c, "ended")
		require.NotEmpty(t, ss, "call %d", i)
		assert.Equal(t, "911", ss[0].To)
	}
	recs := e.trunk.Calls()
	require.Len(t, recs, 2, "both reached the trunk though the seat may place one call a minute")
	assert.Equal(t, "911", recs[0].ToUser)
}
