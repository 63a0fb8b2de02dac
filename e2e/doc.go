// Package e2e holds the end-to-end tests: the bridge binary against real
// Chromium, sipp, baresip and kamailio. They are built only with the e2e
// tag, so `go test ./...` stays quick:
//
//	go test -tags e2e -count=1 -timeout 30m ./e2e/...
//
// They need root (network namespaces) and the Debian packages .ci/run
// installs. The helpers live in e2e/harness.
package e2e
