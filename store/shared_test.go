package store_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/store"
)

func TestPageLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, want int
	}{
		{"zero is the default", 0, store.DefaultLimit},
		{"negative is the default", -3, store.DefaultLimit},
		{"in range", 7, 7},
		{"at the cap", store.MaxLimit, store.MaxLimit},
		{"over the cap", store.MaxLimit + 1, store.MaxLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, store.PageLimit(tc.n))
		})
	}
}

func TestDueLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, want int
	}{
		{"zero is the default", 0, store.DefaultLimit},
		{"negative is the default", -1, store.DefaultLimit},
		{"kept", 3, 3},
		{"not capped", store.MaxLimit + 1, store.MaxLimit + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, store.DueLimit(tc.n))
		})
	}
}

func TestNextPage(t *testing.T) {
	last := func(v int) string { return string(rune('a' + v)) }
	for _, tc := range []struct {
		name     string
		in       []int
		n        int
		want     []int
		wantNext string
	}{
		{"empty", nil, 2, nil, ""},
		{"short page is the last", []int{0, 1}, 2, []int{0, 1}, ""},
		{"one more: cut, cursor from the last kept", []int{0, 1, 2}, 2, []int{0, 1}, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next := store.NextPage(tc.in, tc.n, last)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantNext, next)
		})
	}
}

func TestCallCursorRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   int64
		id   string
	}{
		{"zero", 0, ""},
		{"millis", 1_700_000_000_123, "call-1"},
		{"negative", -5, "x"},
		{"id with separator-like bytes", 42, "a/b+c=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, id, err := store.DecodeCallCursor(store.EncodeCallCursor(tc.at, tc.id))
			require.NoError(t, err)
			assert.Equal(t, tc.at, at)
			assert.Equal(t, tc.id, id)
		})
	}
}

func TestEventCursorRoundTrip(t *testing.T) {
	for _, seq := range []int64{0, 1, 1 << 40} {
		got, err := store.DecodeEventCursor(store.EncodeEventCursor(seq))
		require.NoError(t, err)
		assert.Equal(t, seq, got)
	}
}

func TestBadCursors(t *testing.T) {
	raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, cur, msg string
		event          bool
	}{
		{"call: not base64", "garbage!", "store: bad cursor: not base64", false},
		// 7 bytes: the padded encoding ends in "=".
		{"call: padded base64", base64.URLEncoding.EncodeToString([]byte("c\x001\x00abc")), "store: bad cursor: not base64", false},
		{"call: event cursor", store.EncodeEventCursor(3), "store: bad cursor: wrong shape", false},
		{"call: too many parts", raw("c\x001\x00id\x00x"), "store: bad cursor: wrong shape", false},
		{"call: bad time", raw("c\x00soon\x00id"), "store: bad cursor: bad time", false},
		{"event: not base64", "x", "store: bad cursor: not base64", true},
		{"event: call cursor", store.EncodeCallCursor(1, "id"), "store: bad cursor: wrong shape", true},
		{"event: bad seq", raw("e\x00one"), "store: bad cursor: bad seq", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.event {
				_, err = store.DecodeEventCursor(tc.cur)
			} else {
				_, _, err = store.DecodeCallCursor(tc.cur)
			}
			require.ErrorIs(t, err, store.ErrBadCursor)
			assert.EqualError(t, err, tc.msg)
		})
	}
}

// FuzzDecodeCursor: any string is a valid cursor or ErrBadCursor, never a
// panic, and a valid one encodes back to itself.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(store.EncodeCallCursor(1_700_000_000_000, "call-1"))
	f.Add(store.EncodeEventCursor(42))
	f.Add("garbage!")
	f.Fuzz(func(t *testing.T, cur string) {
		if at, id, err := store.DecodeCallCursor(cur); err != nil {
			require.ErrorIs(t, err, store.ErrBadCursor)
		} else {
			gotAt, gotID, err := store.DecodeCallCursor(store.EncodeCallCursor(at, id))
			require.NoError(t, err)
			require.Equal(t, at, gotAt)
			require.Equal(t, id, gotID)
		}
		if seq, err := store.DecodeEventCursor(cur); err != nil {
			require.ErrorIs(t, err, store.ErrBadCursor)
		} else {
			got, err := store.DecodeEventCursor(store.EncodeEventCursor(seq))
			require.NoError(t, err)
			require.Equal(t, seq, got)
		}
	})
}

type fakeRows struct {
	vals []int
	i    int
	err  error
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.vals) }
func (r *fakeRows) Err() error { return r.err }

func TestCollectRows(t *testing.T) {
	errIter, errScan := errors.New("iteration"), errors.New("scan")
	for _, tc := range []struct {
		name    string
		rows    *fakeRows
		failAt  int // scan fails on this value; 0 = never
		want    []int
		wantErr error
	}{
		{"none", &fakeRows{}, 0, nil, nil},
		{"all", &fakeRows{vals: []int{1, 2, 3}}, 0, []int{1, 2, 3}, nil},
		{"scan error stops", &fakeRows{vals: []int{1, 2, 3}}, 2, nil, errScan},
		{"iteration error", &fakeRows{vals: []int{1}, err: errIter}, 0, []int{1}, errIter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rows
			got, err := store.CollectRows(r, func() (int, error) {
				v := r.vals[r.i-1]
				if v == tc.failAt {
					return 0, errScan
				}
				return v, nil
			})
			assert.ErrorIs(t, err, tc.wantErr)
			if tc.wantErr == nil {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNotFound(t *testing.T) {
	err := store.NotFound("event", "ev-1")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.EqualError(t, err, "store: not found: event ev-1")
}

func TestApplyMigrations(t *testing.T) {
	errStep := errors.New("step")
	for _, tc := range []struct {
		name      string
		cur, know int
		failAt    int // apply fails at this version; 0 = never
		wantRun   []int
		wantErr   error
		wantMsg   string
	}{
		{"fresh", 0, 3, 0, []int{1, 2, 3}, nil, ""},
		{"partly migrated", 2, 3, 0, []int{3}, nil, ""},
		{"up to date", 3, 3, 0, nil, nil, ""},
		{"newer than the build", 4, 3, 0, nil, store.ErrSchemaTooNew,
			"store: database schema is newer than this build: database at version 4, this build knows 3"},
		{"step fails", 0, 3, 2, []int{1, 2}, errStep, "migration 2: step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran []int
			err := store.ApplyMigrations(tc.cur, tc.know, func(v int) error {
				ran = append(ran, v)
				if v == tc.failAt {
					return errStep
				}
				return nil
			})
			assert.Equal(t, tc.wantRun, ran)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			assert.EqualError(t, err, tc.wantMsg)
		})
	}
}
