// Package harness starts real protocol peers for the end-to-end tests in
// e2e/ (built with `-tags e2e`): the bridge binary itself, sipp, baresip,
// kamailio, and Chromium driven by a Node/Playwright script.
//
// Every helper ties the lifetime of what it starts to the test: processes are
// stopped (SIGTERM, then SIGKILL to their process group) and namespaces
// deleted in t.Cleanup, and the log of each process is printed when the test
// fails. Nothing here sends traffic off the host: peers listen on 127.0.0.1
// or inside a sealed network namespace made by [NewSealedNetns], whose only
// non-loopback address (10.99.0.1) has no way out.
//
// The helpers fail the test (t.Fatal) when a tool is missing: the e2e suite
// runs in CI where .ci/run installs every tool, and a skipped real-peer test
// would prove nothing.
package harness
