package main

import (
	"net/http"
	"net/http/pprof"
)

// mountProfiler serves Go's profiler behind the admin token, for capacity
// work (docs/BENCHMARKS.md): a CPU profile costs a few percent of one core
// while it runs.
func mountProfiler(mux *http.ServeMux, admin func(http.Handler) http.Handler) {
	mux.Handle("GET /v1/admin/debug/pprof/profile", admin(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /v1/admin/debug/pprof/{name}", admin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Handler(r.PathValue("name")).ServeHTTP(w, r)
	})))
}
