package diag

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/callbridge/callbridge/bridge"
)

// Source is where the stats page reads calls from.
type Source interface {
	Calls() []bridge.CallInfo  // in progress
	Recent() []bridge.CallInfo // ended, newest first
	// BrowserReport is the client's last getStats upload for a call.
	BrowserReport(callID string) *BrowserReport
}

//go:embed page/stats.html
var statsPage []byte

// PagePath and APIPath are where Handler serves.
const (
	PagePath = "/stats"
	APIPath  = "/v1/admin/diag"
)

// Mount serves the media stats page (PagePath, a static page that asks
// for the admin token) and its JSON (APIPath, behind guard).
func Mount(mux *http.ServeMux, src Source, guard func(http.Handler) http.Handler) {
	mux.HandleFunc("GET "+PagePath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		_, _ = w.Write(statsPage)
	})
	mux.Handle("GET "+APIPath, guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		out := struct {
			Now    time.Time `json:"now"`
			Active []Entry   `json:"active"`
			Recent []Entry   `json:"recent"`
		}{Now: now.UTC(), Active: []Entry{}, Recent: []Entry{}}
		for _, c := range src.Calls() {
			out.Active = append(out.Active, entry(src, c, now))
		}
		for _, c := range src.Recent() {
			out.Recent = append(out.Recent, entry(src, c, now))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(out)
	})))
}

// Entry is one call on the stats page: its snapshot and its diagnosis.
type Entry struct {
	Call    bridge.CallInfo `json:"call"`
	Report  Report          `json:"report"`
	Browser *BrowserReport  `json:"browser,omitempty"`
}

func entry(src Source, c bridge.CallInfo, now time.Time) Entry {
	b := src.BrowserReport(c.CallID)
	return Entry{Call: c, Report: Diagnose(Input{Now: now, Call: c, Browser: b}), Browser: b}
}
