package webhook

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// The Standard Webhooks specification's own test vector.
func TestSignVector(t *testing.T) {
	sig, err := Sign(testSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
}

func signedHeaders(t *testing.T, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	sig, err := Sign(testSecret, id, ts, body)
	require.NoError(t, err)
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h
}

func TestVerify(t *testing.T) {
	body := []byte(`{"type":"call.completed"}`)
	now := time.Now()
	other := "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

	tests := []struct {
		name    string
		headers func() http.Header
		body    []byte
		secret  string
		want    error
	}{
		{"valid", func() http.Header { return signedHeaders(t, "evt_1", now, body) }, body, testSecret, nil},
		{"rotation: second signature valid", func() http.Header {
			h := signedHeaders(t, "evt_1", now, body)
			h.Set(HeaderSignature, "v1,AAAA v1a,Zm9v "+h.Get(HeaderSignature))
			return h
		}, body, testSecret, nil},
		{"tampered body", func() http.Header { return signedHeaders(t, "evt_1", now, body) }, []byte(`{"type":"call.answered"}`), testSecret, ErrBadSignature},
		{"other id", func() http.Header {
			h := signedHeaders(t, "evt_1", now, body)
			h.Set(HeaderID, "evt_2")
			return h
		}, body, testSecret, ErrBadSignature},
		{"wrong secret", func() http.Header { return signedHeaders(t, "evt_1", now, body) }, body, other, ErrBadSignature},
		{"too old", func() http.Header { return signedHeaders(t, "evt_1", now.Add(-6*time.Minute), body) }, body, testSecret, ErrTimestamp},
		{"too new", func() http.Header { return signedHeaders(t, "evt_1", now.Add(6*time.Minute), body) }, body, testSecret, ErrTimestamp},
		{"bad timestamp", func() http.Header {
			h := signedHeaders(t, "evt_1", now, body)
			h.Set(HeaderTimestamp, "yesterday")
			return h
		}, body, testSecret, ErrTimestamp},
		{"missing signature", func() http.Header {
			h := signedHeaders(t, "evt_1", now, body)
			h.Del(HeaderSignature)
			return h
		}, body, testSecret, ErrMissingHeaders},
		{"only v1a", func() http.Header {
			h := signedHeaders(t, "evt_1", now, body)
			h.Set(HeaderSignature, "v1a,"+h.Get(HeaderSignature)[3:])
			return h
		}, body, testSecret, ErrBadSignature},
		{"bad secret", func() http.Header { return signedHeaders(t, "evt_1", now, body) }, body, "not-a-secret", ErrBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.headers(), tt.body, 0)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestParseSecret(t *testing.T) {
	key, err := ParseSecret(testSecret)
	require.NoError(t, err)
	assert.Len(t, key, 24)
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!", "whsec_c2hvcnQ="} {
		_, err := ParseSecret(bad)
		require.ErrorIs(t, err, ErrBadSecret, bad)
		if len(bad) > 8 {
			assert.NotContains(t, err.Error(), bad[6:])
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("evt_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("", "", "", []byte{})
	f.Add("a", "-1", "v1, v1a,x v2,,", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		// Random input must never verify (no key is known to the fuzzer)
		// and never panic.
		err := verifyAt(testSecret, h, body, time.Hour, time.Unix(1614265330, 0))
		if err == nil {
			want, serr := Sign(testSecret, id, time.Unix(1614265330, 0), body)
			require.NoError(t, serr)
			require.Contains(t, sig, want[3:], "verified without the right signature")
		}
	})
}
