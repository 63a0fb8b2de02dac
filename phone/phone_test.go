package phone

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, region, want string
	}{
		{"US national with punctuation", "(415) 555-0100", "US", "+14155550100"},
		{"US with dots", "415.555.0100", "US", "+14155550100"},
		{"US with leading 1", "1 415 555 0100", "US", "+14155550100"},
		{"US international prefix 011", "011 44 20 7183 8750", "US", "+442071838750"},
		{"UK international written with plus", "+44 20 7183 8750", "US", "+442071838750"},
		{"UK via 00 from GB", "0044 20 7183 8750", "GB", "+442071838750"},
		{"UK via 00 from DE", "0044 20 7183 8750", "DE", "+442071838750"},
		{"UK national trunk prefix 0", "020 7183 8750", "GB", "+442071838750"},
		{"E.164 stays", "+14155550100", "US", "+14155550100"},
		{"E.164 without region", "+14155550100", "", "+14155550100"},
		{"fictional 555-01xx test number", "+15550100001", "US", "+15550100001"},
		{"fictional 555-01xx national", "(555) 010-0002", "US", "+15550100002"},
		{"region lower case", "(415) 555-0100", "us", "+14155550100"},
		{"surrounding space", "  +44 20 7183 8750 ", "GB", "+442071838750"},
		{"French national", "01 42 68 53 00", "FR", "+33142685300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in, tt.region)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.True(t, IsE164(got))
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name, in, region, why string
	}{
		{"empty", "", "US", "empty"},
		{"blank", "   ", "US", "empty"},
		{"garbage", "call me maybe", "US", "no digits"},
		{"too short", "123", "US", "too short"},
		{"local only", "555-0100", "US", "area code"},
		{"too long", "+1 415 555 0100 1234 5678", "US", "too long"},
		{"unknown country code", "+999 1234 5678", "US", "country code"},
		{"no region and no plus", "4155550100", "", "no default country"},
		{"unknown region", "4155550100", "XX", "unknown default country"},
		{"extension", "+1 415 555 0100 ext. 12", "US", "extension"},
		{"foreign character", "+1 415 555 0100; DROP", "US", "not part of a phone number"},
		{"overlong input", strings.Repeat("1", MaxInputLen+1), "US", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in, tt.region)
			require.ErrorIs(t, err, ErrInvalidNumber)
			assert.Empty(t, got)
			assert.Contains(t, err.Error(), tt.why)
		})
	}
}

func TestIsE164(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"+14155550100", true},
		{"+442071838750", true},
		{"+1234567", true},
		{"+123456789012345", true},
		{"+1234567890123456", false}, // 16 digits
		{"+123456", false},
		{"14155550100", false},
		{"+04155550100", false},
		{"+1 415 555 0100", false},
		{"+1415555010a", false},
		{"", false},
		{"+", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, IsE164(tt.in))
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"(415) 555-0100", "+44 20 7183 8750", "0044 20 7183 8750", "", "+", "ext 1", "1-800-FLOWERS"} {
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, in, region string) {
		out, err := Normalize(in, region)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidNumber)
			return
		}
		require.True(t, IsE164(out), "Normalize(%q, %q) = %q is not E.164", in, region, out)
		again, err := Normalize(out, "")
		require.NoError(t, err, "normalized %q does not normalize again", out)
		require.Equal(t, out, again)
	})
}

func TestRegion(t *testing.T) {
	for in, want := range map[string]string{
		"+14155550100":  "US",
		"+16135550100":  "CA",
		"+18765551234":  "JM",
		"+442071838750": "GB",
		"+15550100001":  "US", // fictional range: the country code's main region
		"+4930901820":   "DE",
	} {
		got, err := Region(in)
		if err != nil || got != want {
			t.Errorf("Region(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Region("garbage"); err == nil {
		t.Error("Region(garbage): no error")
	}
}
