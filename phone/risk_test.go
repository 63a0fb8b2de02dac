package phone

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEmergencyNumber(t *testing.T) {
	for _, tc := range []struct{ in, region, want string }{
		{"911", "US", "911"},
		{"9-1-1", "US", "911"},
		{"112", "US", "112"},
		{"999", "US", "999"},
		{"112", "DE", "112"},
		{"110", "DE", "110"}, // Germany's police, from the short-number data
		{"15", "FR", "15"},   // France's SAMU
		{"110", "US", ""},
		{"+1911", "US", ""},
		{"911a", "US", ""},
		{"4155550100", "US", ""},
		{"", "US", ""},
	} {
		assert.Equal(t, tc.want, EmergencyNumber(tc.in, tc.region), "%q in %s", tc.in, tc.region)
	}
}

func TestNumberType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+14155552671", ""},
		{"+442071838750", ""},
		{"+19002255288", "premium_rate"},
		{"+34901123456", "shared_cost"},
		{"+881631234567", "satellite"},
		{"+15550100002", "unknown"},
		{"not a number", "unknown"},
	} {
		assert.Equal(t, tc.want, NumberType(tc.in), tc.in)
	}
}

// FuzzDialingPolicy: emergency detection and number types take any input.
func FuzzDialingPolicy(f *testing.F) {
	for _, s := range []string{"911", "9-1-1", "+19002255288", "+881631234567", "110", "(112)", "+", "", "٩١١"} {
		f.Add(s, "US")
	}
	f.Add("110", "DE")
	f.Fuzz(func(t *testing.T, in, region string) {
		if n := EmergencyNumber(in, region); n != "" && (len(n) > 6 || n[0] == '+') {
			t.Fatalf("EmergencyNumber(%q, %q) = %q", in, region, n)
		}
		_ = NumberType(in)
	})
}
