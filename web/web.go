// Package web serves the embedded browser assets: the softphone widget
// (softphone/softphone.js, an ES module defining <callbridge-softphone>,
// bundled from the npm package's modules in softphone/src) and
// the demo CRM page (demo/). The files are compiled into the binary with
// go:embed, so the bridge needs nothing on disk to serve them.
//
// Mount them on the bridge's mux:
//
//	mux.Handle("GET /softphone.js", web.Softphone())
//	mux.Handle("GET /demo/", web.Demo()) // demo mode only
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:generate go run ./internal/widgetbundle/gen

// softphone/softphone.js is generated from the modules under softphone/src
// (bundled with esbuild by go generate); TestSoftphoneBundleIsFresh fails
// when it is stale.
//
//go:embed softphone/softphone.js softphone/package.json
var softphoneFS embed.FS

//go:embed demo
var demoFS embed.FS

const (
	// SoftphonePath is where the bridge serves the widget.
	SoftphonePath = "/softphone.js"
	// DemoPrefix is the URL prefix of the demo CRM page.
	DemoPrefix = "/demo/"

	// softphoneCacheControl lets browsers and CDNs keep the widget for a few
	// minutes and then revalidate with the ETag (RFC 9111 §5.2.2), so a new
	// bridge release reaches agents quickly without a versioned URL.
	softphoneCacheControl = "public, max-age=300, must-revalidate"
	// demoCacheControl makes the demo page always revalidate.
	demoCacheControl = "no-cache"
)

// asset is one embedded file with its precomputed validators.
type asset struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

func newAsset(fsys fs.FS, name string) (asset, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return asset{}, err
	}
	sum := sha256.Sum256(b)
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		// RFC 9239 §6: text/javascript is the one media type for JavaScript.
		ct = "text/javascript; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".png":
		ct = "image/png"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	return asset{
		name:        name,
		body:        b,
		contentType: ct,
		etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
	}, nil
}

// serve writes the asset; http.ServeContent answers HEAD, Range and
// If-None-Match (304, RFC 9110 §13.1.2) from the ETag set here.
func (a asset) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

func mustAsset(fsys fs.FS, name string) asset {
	a, err := newAsset(fsys, name)
	if err != nil {
		// The file is embedded at compile time; failing here is a build defect.
		panic("web: embedded asset missing: " + name + ": " + err.Error())
	}
	return a
}

func allowRead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// WidgetVersion is the version of the embedded widget (its npm package's).
func WidgetVersion() string {
	b, err := softphoneFS.ReadFile("softphone/package.json")
	if err != nil {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(b, &pkg)
	return pkg.Version
}

// Softphone returns a handler that serves the widget module at whatever path
// it is mounted on (normally SoftphonePath) with Content-Type
// text/javascript, an ETag and Cache-Control. It allows cross-origin loading
// (Access-Control-Allow-Origin: *) because a CRM on another origin imports it
// as a module script, which is fetched in CORS mode.
func Softphone() http.Handler {
	a := mustAsset(softphoneFS, "softphone/softphone.js")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowRead(w, r) {
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		a.serve(w, r, softphoneCacheControl)
	})
}

// Demo returns a handler for the demo CRM page under DemoPrefix: "/demo/"
// is the page itself and "/demo/<file>" its other files. "/demo" redirects
// to "/demo/". Anything else is 404. The bridge serves "/demo/token" itself
// (a more specific route) in demo mode only.
func Demo() http.Handler {
	assets := map[string]asset{}
	err := fs.WalkDir(demoFS, "demo", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		a, err := newAsset(demoFS, p)
		if err != nil {
			return err
		}
		assets[strings.TrimPrefix(p, "demo/")] = a
		return nil
	})
	if err != nil {
		panic("web: reading embedded demo files: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowRead(w, r) {
			return
		}
		if r.URL.Path == strings.TrimSuffix(DemoPrefix, "/") {
			http.Redirect(w, r, DemoPrefix, http.StatusMovedPermanently)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, DemoPrefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		a.serve(w, r, demoCacheControl)
	})
}
