package diag

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/bridge"
)

type fakeSource struct{ active, recent []bridge.CallInfo }

func (f fakeSource) Calls() []bridge.CallInfo                   { return f.active }
func (f fakeSource) Recent() []bridge.CallInfo                  { return f.recent }
func (f fakeSource) BrowserReport(callID string) *BrowserReport { return nil }

func TestHandler(t *testing.T) {
	c := answered()
	mux := http.NewServeMux()
	Mount(mux, fakeSource{active: []bridge.CallInfo{c}}, auth.RequireAdmin("admin-token-123456"))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + PagePath)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.Header.Get("Content-Type"), "text/html")

	for _, tok := range []string{"", "wrong"} {
		req, _ := http.NewRequest("GET", srv.URL+APIPath, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "token %q", tok)
	}

	req, _ := http.NewRequest("GET", srv.URL+APIPath, nil)
	req.Header.Set("Authorization", "Bearer admin-token-123456")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var body struct {
		Active []Entry `json:"active"`
		Recent []Entry `json:"recent"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.Len(t, body.Active, 1)
	assert.Equal(t, "c1", body.Active[0].Call.CallID)
	assert.Len(t, body.Active[0].Report.Directions, 4)
	assert.Empty(t, body.Recent)
}
