package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET "+SoftphonePath, Softphone())
	mux.Handle("GET /demo/", Demo())
	mux.Handle("GET /demo", Demo())
	mux.HandleFunc("GET /demo/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"token":"t"}`)
	})
	return mux
}

func TestServesEmbeddedFiles(t *testing.T) {
	srv := httptest.NewServer(newMux())
	t.Cleanup(srv.Close)

	tests := []struct {
		name        string
		path        string
		status      int
		contentType string
		cache       string
		contains    string
	}{
		{"widget module", "/softphone.js", 200, "text/javascript; charset=utf-8", softphoneCacheControl, "customElements.define(\"callbridge-softphone\""},
		{"demo page", "/demo/", 200, "text/html; charset=utf-8", demoCacheControl, `<callbridge-softphone token-url="/demo/token" placeholder="+1 555 010 0001">`},
		{"demo page by name", "/demo/index.html", 200, "text/html; charset=utf-8", demoCacheControl, `<script type="module" src="/softphone.js">`},
		{"demo stylesheet", "/demo/demo.css", 200, "text/css; charset=utf-8", demoCacheControl, "--callbridge-accent"},
		{"demo token route stays the bridge's", "/demo/token", 200, "application/json", "", `{"token":"t"}`},
		{"unknown demo file", "/demo/nope.js", 404, "text/plain; charset=utf-8", "", ""},
		{"no directory walk", "/demo/../web.go", 404, "text/plain; charset=utf-8", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := http.Get(srv.URL + tc.path)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			assert.Equal(t, tc.status, res.StatusCode)
			assert.Equal(t, tc.contentType, res.Header.Get("Content-Type"))
			if tc.cache != "" {
				assert.Equal(t, tc.cache, res.Header.Get("Cache-Control"))
				assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
				assert.NotEmpty(t, res.Header.Get("ETag"))
			}
			assert.Contains(t, string(body), tc.contains)
		})
	}
}

func TestSoftphoneRevalidation(t *testing.T) {
	h := Softphone()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, SoftphonePath, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	etag := rec.Header().Get("ETag")
	require.True(t, strings.HasPrefix(etag, `"`) && strings.HasSuffix(etag, `"`), "strong ETag, got %q", etag)
	assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))

	tests := []struct {
		name        string
		ifNoneMatch string
		want        int
	}{
		{"same version is not sent again", etag, http.StatusNotModified},
		{"other version is sent", `"0000"`, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, SoftphonePath, nil)
			req.Header.Set("If-None-Match", tc.ifNoneMatch)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.want, rec.Code)
		})
	}
}

func TestMethods(t *testing.T) {
	tests := []struct {
		name   string
		h      http.Handler
		method string
		path   string
		want   int
	}{
		{"widget HEAD", Softphone(), http.MethodHead, "/softphone.js", http.StatusOK},
		{"widget POST", Softphone(), http.MethodPost, "/softphone.js", http.StatusMethodNotAllowed},
		{"demo POST", Demo(), http.MethodPost, "/demo/", http.StatusMethodNotAllowed},
		{"demo without slash redirects", Demo(), http.MethodGet, "/demo", http.StatusMovedPermanently},
		{"demo outside prefix", Demo(), http.MethodGet, "/other", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			assert.Equal(t, tc.want, rec.Code)
		})
	}
}
