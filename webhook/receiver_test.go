package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/record"
)

// received is one request as the test receiver saw it.
type received struct {
	Header http.Header
	Body   []byte
	Err    error // signature verification result
	Status int   // what the receiver answered
}

// receiver is a webhook endpoint for tests: it verifies every request's
// signature and answers with the status its script gives for each attempt.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	got    chan received

	mu     sync.Mutex
	script func(n int, r *http.Request) (status int, header http.Header) // guarded by mu
	n      int                                                           // guarded by mu
	all    []received                                                    // guarded by mu
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	rc := &receiver{t: t, secret: secret, got: make(chan received, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hooks" }

// answer sets the script: status (and headers) for the n-th request, 0-based.
func (rc *receiver) answer(f func(n int, r *http.Request) (int, http.Header)) {
	rc.mu.Lock()
	rc.script = f
	rc.mu.Unlock()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := rc.n
	rc.n++
	script := rc.script
	rc.mu.Unlock()
	status, hdr := http.StatusNoContent, http.Header(nil)
	if script != nil {
		status, hdr = script(n, r)
	}
	for k, v := range hdr {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	rec := received{Header: r.Header.Clone(), Body: body, Err: Verify(rc.secret, r.Header, body, 0), Status: status}
	rc.mu.Lock()
	rc.all = append(rc.all, rec)
	rc.mu.Unlock()
	rc.got <- rec
}

// next waits for the next request.
func (rc *receiver) next() received {
	rc.t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(10 * time.Second):
		rc.t.Fatal("no webhook request arrived")
		return received{}
	}
}

// none asserts that no request arrives for a short while.
func (rc *receiver) none(d time.Duration) {
	rc.t.Helper()
	select {
	case r := <-rc.got:
		rc.t.Fatalf("unexpected webhook request: %s", r.Body)
	case <-time.After(d):
	}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

func decodeEvent(t *testing.T, body []byte) record.Event {
	t.Helper()
	var ev record.Event
	require.NoError(t, json.Unmarshal(body, &ev))
	return ev
}
