package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/directory"
	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/sqlite"
)

const token = "admin-token-0123456789"

type env struct {
	t   *testing.T
	srv *httptest.Server
	dir *directory.Directory
	st  store.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cfg := &config.Config{
		Auth:   config.Auth{AdminToken: token},
		Trunks: []config.Trunk{{Name: "carrier-a", Address: "sip:127.0.0.1:5081"}},
		Seats:  []config.Seat{{ID: "from-file", CallerIDs: []string{"+14155550100"}}},
	}
	cfg.SetDefaults()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := directory.New(context.Background(), st, cfg, log)
	require.NoError(t, err)
	authorize := func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+token }
	srv := httptest.NewServer(Handler(dir, st, authorize, log))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, dir: dir, st: st}
}

type reply struct {
	status int
	raw    string
	body   map[string]any
}

// field is the error's field, "" when none.
func (r reply) field() string {
	e, _ := r.body["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (e *env) do(method, path, body string, hdr ...string) reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	out := reply{status: resp.StatusCode, raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		require.NoError(e.t, json.Unmarshal(raw, &out.body), "body %s", raw)
	}
	return out
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"", "Bearer wrong-token-000000000", token} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/admin/seats", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "Authorization %q", auth)
	}
}

func TestSeatLifecycle(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/admin/seats", `{"id":"agent-9","sip_username":"u9","sip_password":"s3cret-9",
		"dids":["+442071838750","+14155550150"],"max_calls":2,"allowed_countries":["gb","us"],
		"webhook_url":"https://crm.example.com/hooks","inbound_fallback":"forward","inbound_forward_to":"+442071838700"}`, "X-Actor", "crm-sync")
	require.Equal(t, http.StatusCreated, r.status, r.raw)
	assert.Equal(t, "/v1/admin/seats/agent-9", "/v1/admin/seats/"+r.body["id"].(string))
	assert.NotContains(t, r.raw, "s3cret-9", "credentials are never returned")
	assert.NotContains(t, r.raw, `"sip_password"`)
	assert.Equal(t, true, r.body["sip_password_set"])
	assert.Equal(t, "GB", r.body["country"], "the country of the first DID")
	assert.Equal(t, []any{"GB", "US"}, r.body["allowed_countries"])
	assert.Equal(t, []any{
		map[string]any{"number": "+442071838750", "default": true},
		map[string]any{"number": "+14155550150", "default": false},
	}, r.body["dids"])

	// The directory has it at once, password included, for the trunk's challenges.
	s, ok := e.dir.Seat("agent-9")
	require.True(t, ok)
	assert.Equal(t, "s3cret-9", s.SIPPassword)
	assert.Equal(t, []string{"+442071838750", "+14155550150"}, s.CallerIDs)

	r = e.do("POST", "/v1/admin/seats", `{"id":"agent-9","country":"GB"}`)
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "exists", r.code())

	// PATCH changes only what it names; the password stays.
	r = e.do("PATCH", "/v1/admin/seats/agent-9", `{"country":"US","calls_per_minute":5}`)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, "US", r.body["country"])
	assert.Equal(t, float64(2), r.body["max_calls"])
	s, _ = e.dir.Seat("agent-9")
	assert.Equal(t, "s3cret-9", s.SIPPassword)
	assert.Equal(t, 5, s.CallsPerMinute)
	r = e.do("PATCH", "/v1/admin/seats/agent-9", `{"sip_password":"n3w-pass"}`)
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, r.raw, "n3w-pass")
	s, _ = e.dir.Seat("agent-9")
	assert.Equal(t, "n3w-pass", s.SIPPassword)

	// Disabling closes the seat's sessions (OnSeatGone) and is reported.
	gone := make(chan string, 1)
	e.dir.OnSeatGone(func(seat, why string) { gone <- seat + " " + why })
	r = e.do("POST", "/v1/admin/seats/agent-9/disable", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, true, r.body["disabled"])
	assert.Equal(t, "agent-9 disabled", <-gone)
	r = e.do("POST", "/v1/admin/seats/agent-9/enable", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, false, r.body["disabled"])

	// DIDs: a number belongs to one seat.
	r = e.do("PUT", "/v1/admin/seats/agent-9/dids/%2B14155550100", "")
	assert.Equal(t, http.StatusConflict, r.status, "from-file's number")
	r = e.do("PUT", "/v1/admin/seats/agent-9/dids/%2B441614960000", `{"default":true}`)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, map[string]any{"number": "+441614960000", "default": true}, r.body["dids"].([]any)[0])
	r = e.do("PUT", "/v1/admin/seats/agent-9/dids/0161", "")
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Equal(t, "number", r.field())
	r = e.do("DELETE", "/v1/admin/seats/agent-9/dids/%2B14155550150", "")
	assert.Equal(t, http.StatusNoContent, r.status)
	r = e.do("DELETE", "/v1/admin/seats/agent-9/dids/%2B14155550150", "")
	assert.Equal(t, http.StatusNotFound, r.status)

	// Every change is in the audit log with its actor, never a password.
	r = e.do("GET", "/v1/admin/audit?kind=seat&key=agent-9", "")
	require.Equal(t, http.StatusOK, r.status)
	entries := r.body["entries"].([]any)
	require.Len(t, entries, 5) // create, update, update, disable, enable; newest first
	first := entries[len(entries)-1].(map[string]any)
	assert.Equal(t, "admin:crm-sync", first["actor"])
	assert.Equal(t, "create", first["action"])
	assert.Equal(t, "disable", entries[1].(map[string]any)["action"])
	all := e.do("GET", "/v1/admin/audit?limit=500", "")
	assert.NotContains(t, all.raw, "s3cret-9")
	assert.NotContains(t, all.raw, "n3w-pass")
	r = e.do("GET", "/v1/admin/audit?limit=0", "")
	assert.Equal(t, "limit", r.field())

	r = e.do("DELETE", "/v1/admin/seats/agent-9", "")
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Equal(t, "agent-9 deleted", <-gone)
	r = e.do("GET", "/v1/admin/seats/agent-9", "")
	assert.Equal(t, http.StatusNotFound, r.status)
}

// Validation errors name the field.
func TestSeatValidation(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"id":"agent 9","country":"GB"}`, 422, "id"},
		{`{"country":"GB"}`, 422, "id"},
		{`{"id":"a","country":"XX"}`, 422, "country"},
		{`{"id":"a"}`, 422, "country"},
		{`{"id":"a","dids":["+442071838750","0207"]}`, 422, "dids[1]"},
		{`{"id":"a","dids":["+442071838751","+442071838751"]}`, 422, "dids[1]"},
		{`{"id":"a","country":"GB","sip_password":"x"}`, 422, "sip_username"},
		{`{"id":"a","country":"GB","max_calls":0}`, 422, "max_calls"},
		{`{"id":"a","country":"GB","calls_per_minute":-1}`, 422, "calls_per_minute"},
		{`{"id":"a","country":"GB","allowed_countries":["GB","Narnia"]}`, 422, "allowed_countries[1]"},
		{`{"id":"a","country":"GB","webhook_url":"ftp://x/y"}`, 422, "webhook_url"},
		{`{"id":"a","country":"GB","inbound_fallback":"reception"}`, 422, "inbound_fallback"},
		{`{"id":"a","country":"GB","colour":"blue"}`, 400, "colour"},
		{`{"id":"a","country":"GB","max_calls":"two"}`, 400, "max_calls"},
		{`{"id":"a","dids":["+14155550100"]}`, 409, "dids[0]"},
		{`{"id":"a"`, 400, ""},
		{`{"id":"a","country":"GB"} {}`, 400, ""},
	} {
		t.Run(tc.body, func(t *testing.T) {
			r := e.do("POST", "/v1/admin/seats", tc.body)
			assert.Equal(t, tc.status, r.status, r.raw)
			assert.Equal(t, tc.field, r.field(), r.raw)
			msg := r.body["error"].(map[string]any)["message"].(string)
			assert.NotEmpty(t, msg)
			if tc.field != "" {
				assert.Contains(t, msg, tc.field)
			}
		})
	}
	r := e.do("POST", "/v1/admin/seats", `{"id":"a b","country":"XX","max_calls":0}`)
	problems := r.body["error"].(map[string]any)["problems"].([]any)
	var fields []string
	for _, p := range problems {
		fields = append(fields, p.(map[string]any)["field"].(string))
	}
	assert.Equal(t, []string{"id", "country", "max_calls"}, fields, "every problem at once")
	r = e.do("PATCH", "/v1/admin/seats/from-file", `{"id":"renamed"}`)
	assert.Equal(t, "id", r.field())
	e.do("POST", "/v1/admin/seats", `{"id":"p","country":"GB"}`)
	r = e.do("PATCH", "/v1/admin/seats/p", `{"dids":["+442071838750"]}`)
	assert.Equal(t, "dids", r.field())
}

func TestConfigSeatIsReadOnly(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/admin/seats/from-file", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, true, r.body["managed_by_config"])
	assert.Equal(t, "config", r.body["source"])
	for _, req := range [][2]string{
		{"PATCH", "/v1/admin/seats/from-file"}, {"POST", "/v1/admin/seats/from-file/disable"},
		{"DELETE", "/v1/admin/seats/from-file"}, {"PUT", "/v1/admin/seats/from-file/dids/%2B14155550199"},
	} {
		body := ""
		if req[0] == "PATCH" {
			body = `{"country":"CA"}`
		}
		r := e.do(req[0], req[1], body)
		assert.Equal(t, http.StatusConflict, r.status, "%s %s", req[0], req[1])
		assert.Equal(t, "managed_by_config", r.code())
	}
}

func TestTrunksAndRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/admin/trunks", `{"name":"carrier-b","address":"sip:127.0.0.1:5082;transport=tcp",
		"credentials":"trunk","username":"acct","password":"trunk-pw-1","max_calls":10,
		"identity":{"header":"ppi","privacy":"id","from_host":"b.example","user_phone":true},
		"headers":{"X-Account":"{{.Seat}}"}}`)
	require.Equal(t, http.StatusCreated, r.status, r.raw)
	assert.NotContains(t, r.raw, "trunk-pw-1")
	assert.Equal(t, true, r.body["password_set"])
	assert.Equal(t, map[string]any{"header": "ppi", "privacy": "id", "from_host": "b.example", "user_phone": true}, r.body["identity"])

	for _, tc := range []struct{ body, field string }{
		{`{"name":"c"}`, "address"},
		{`{"name":"c","address":"http://x"}`, "address"},
		{`{"name":"c","address":"sip:c.example","identity":{"header":"rpid"}}`, "identity.header"},
		{`{"name":"c","address":"sip:c.example","identity":{"privacy":"loud"}}`, "identity.privacy"},
		{`{"name":"c","address":"sip:c.example","headers":{"X-A":"{{.Seat"}}`, "headers.X-A"},
		{`{"name":"c","address":"sip:c.example","headers":{"Via":"x"}}`, "headers.Via"},
		{`{"name":"c","address":"sip:c.example","codecs":["G729"]}`, "codecs[0]"},
		{`{"name":"c d","address":"sip:c.example"}`, "name"},
		{`{"name":"c","address":"sip:c.example","credentials":"trunk"}`, "username"},
	} {
		r := e.do("POST", "/v1/admin/trunks", tc.body)
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, tc.body)
		assert.Equal(t, tc.field, r.field(), r.raw)
	}

	// PUT keeps the password when the body has none.
	r = e.do("PUT", "/v1/admin/trunks/carrier-b", `{"address":"sip:127.0.0.1:5083","credentials":"trunk","username":"acct"}`)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	tr, ok := e.dir.Snapshot().Trunk("carrier-b")
	require.True(t, ok)
	assert.Equal(t, "trunk-pw-1", tr.Password)
	assert.Equal(t, "sip:127.0.0.1:5083", tr.Address)
	r = e.do("PUT", "/v1/admin/trunks/carrier-a", `{"address":"sip:127.0.0.1:5099"}`)
	assert.Equal(t, "managed_by_config", r.code(), "a trunk of the file")

	r = e.do("PUT", "/v1/admin/routes", `{"routes":[{"id":"uk","country":"gb","trunks":[{"trunk":"carrier-b"},{"trunk":"carrier-a"}]},
		{"id":"rest","prefix":"+","trunks":[{"trunk":"carrier-a","weight":3},{"trunk":"carrier-b","weight":1}]}]}`)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Len(t, r.body["routes"], 2)
	route, order, err := e.dir.Snapshot().Plan("+442079460000")
	require.NoError(t, err)
	assert.Equal(t, "uk", route.ID)
	assert.Equal(t, []string{"carrier-b", "carrier-a"}, order)

	r = e.do("PUT", "/v1/admin/routes", `{"routes":[{"id":"uk","prefix":"+44","trunks":[{"trunk":"nope"}]}]}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Equal(t, "routes[0].trunks[0].trunk", r.field())
	r = e.do("PUT", "/v1/admin/routes", `{"routes":[{"id":"uk","prefix":"44","trunks":[{"trunk":"carrier-a"}]}]}`)
	assert.Equal(t, "routes[0].prefix", r.field())

	r = e.do("DELETE", "/v1/admin/trunks/carrier-b", "")
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "in_use", r.code())
	r = e.do("PUT", "/v1/admin/routes", `{"routes":[]}`)
	require.Equal(t, http.StatusOK, r.status)
	r = e.do("DELETE", "/v1/admin/trunks/carrier-b", "")
	assert.Equal(t, http.StatusNoContent, r.status)

	all := e.do("GET", "/v1/admin/audit?kind=trunk", "")
	assert.NotContains(t, all.raw, "trunk-pw-1")
	assert.Contains(t, all.raw, `"password_set": true`)
}

// The OpenAPI description is valid JSON and describes exactly the routes
// the handler serves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", OpenAPIPath, "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "3.1.0", r.body["openapi"])
	var described []string
	for path, ops := range r.body["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(described)
	served := Routes()
	slices.Sort(served)
	assert.Equal(t, served, described)

	// Every $ref resolves.
	schemas := r.body["components"].(map[string]any)["schemas"].(map[string]any)
	responses := r.body["components"].(map[string]any)["responses"].(map[string]any)
	for _, ref := range refs(r.body) {
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		if ok {
			assert.Contains(t, schemas, name)
			continue
		}
		name, ok = strings.CutPrefix(ref, "#/components/responses/")
		require.True(t, ok, ref)
		assert.Contains(t, responses, name)
	}
}

func refs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if s, ok := c.(string); ok && k == "$ref" {
				out = append(out, s)
			}
			out = append(out, refs(c)...)
		}
	case []any:
		for _, c := range x {
			out = append(out, refs(c)...)
		}
	}
	return out
}
