package webhook

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store"
	"github.com/callbridge/callbridge/store/sqlite"
)

// The crash test runs this same test binary as a bridge-like child process
// (TestCrashChild, selected by environment), kills it with SIGKILL while a
// delivery hangs and a call is up, restarts it, and checks that every
// event the child had committed reaches the receiver, in order per call,
// and that the interrupted call is completed as failed by the bridge.
const (
	envCrashDB    = "CALLBRIDGE_CRASH_DB"
	envCrashURL   = "CALLBRIDGE_CRASH_URL"
	envCrashPhase = "CALLBRIDGE_CRASH_PHASE"
)

func TestCrashChild(t *testing.T) {
	phase := os.Getenv(envCrashPhase)
	if phase == "" {
		t.Skip("child process of TestCrashSafety")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, os.Getenv(envCrashDB))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := SenderConfig{URL: os.Getenv(envCrashURL), Secret: testSecret, AllowPrivate: true, Timeout: time.Minute}
	ob, err := NewOutbox(ctx, st, cfg, log, WithPollInterval(10*time.Millisecond), WithSchedule([]time.Duration{50 * time.Millisecond}))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	switch phase {
	case "1":
		// A finished call and a call still up (answered, never completed).
		done, live := callEvents("call-done"), callEvents("call-live")
		var ids []string
		for _, ev := range append(done, live[:3]...) {
			if ev.Type != record.TypeCompleted {
				ev.Call.Status, ev.Call.EndedAt, ev.Call.Hangup = ev.Type[len("call."):], time.Time{}, nil
				ev.Call.StartedAt = time.Now().Add(-time.Second)
			}
			if err := ob.Publish(ctx, ev); err != nil {
				fmt.Println("ERROR", err)
				os.Exit(2)
			}
			ids = append(ids, ev.ID)
		}
		b, _ := json.Marshal(ids)
		fmt.Printf("COMMITTED %s\n", b)
		select {} // wait for SIGKILL
	case "2":
		// Deliver everything, then exit.
		for {
			evs, _, err := st.ListEvents(ctx, store.EventFilter{State: store.StatePending, Limit: 1})
			if err == nil && len(evs) == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = ob.Close(ctx)
		_ = st.Close()
		fmt.Println("DRAINED")
		os.Exit(0)
	}
}

func startChild(t *testing.T, phase, db, url string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), envCrashPhase+"="+phase, envCrashDB+"="+db, envCrashURL+"="+url)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = testWriter{t}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

func readLine(t *testing.T, sc *bufio.Scanner, prefix string) string {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) || strings.HasPrefix(sc.Text(), "ERROR") {
				lines <- sc.Text()
				break
			}
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		require.True(t, ok, "child exited before printing %s", prefix)
		require.False(t, strings.HasPrefix(l, "ERROR"), l)
		return strings.TrimSpace(strings.TrimPrefix(l, prefix))
	case <-time.After(30 * time.Second):
		t.Fatalf("child did not print %s", prefix)
		return ""
	}
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	db := filepath.Join(t.TempDir(), "bridge.db")

	var mu sync.Mutex
	hang := true                  // guarded by mu
	delivered := map[string]int{} // event id -> 2xx answers; guarded by mu
	var order []record.Event      // first 2xx receipt of each event; guarded by mu
	inflight := make(chan struct{}, 100)
	rc := newReceiver(t, testSecret)
	rc.answer(func(_ int, r *http.Request) (int, http.Header) {
		mu.Lock()
		h := hang
		mu.Unlock()
		if h {
			inflight <- struct{}{}
			<-r.Context().Done() // hang until the client dies
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	})
	go func() {
		for r := range rc.got {
			if r.Status != http.StatusOK {
				continue
			}
			require.NoError(t, r.Err)
			ev := decodeEvent(t, r.Body)
			mu.Lock()
			if delivered[ev.ID] == 0 {
				order = append(order, ev)
			}
			delivered[ev.ID]++
			mu.Unlock()
		}
	}()

	// Phase 1: commit, start delivering, get killed mid-delivery and mid-call.
	child, out := startChild(t, "1", db, rc.URL())
	var committed []string
	require.NoError(t, json.Unmarshal([]byte(readLine(t, out, "COMMITTED")), &committed))
	require.Len(t, committed, 7)
	select {
	case <-inflight:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery started")
	}
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	// Phase 2: restart with a healthy receiver.
	mu.Lock()
	hang = false
	mu.Unlock()
	child, out = startChild(t, "2", db, rc.URL())
	readLine(t, out, "DRAINED")
	require.NoError(t, child.Wait())

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) >= 8
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range committed {
		assert.GreaterOrEqual(t, delivered[id], 1, "committed event %s never delivered", id)
	}
	perCall := map[string][]string{}
	for _, ev := range order {
		perCall[ev.Call.CallID] = append(perCall[ev.Call.CallID], ev.Type)
	}
	all := []string{record.TypeInitiated, record.TypeRinging, record.TypeAnswered, record.TypeCompleted}
	assert.Equal(t, all, perCall["call-done"])
	assert.Equal(t, all, perCall["call-live"], "the interrupted call is completed, last")
	last := order[len(order)-1]
	for _, ev := range order {
		if ev.Call.CallID == "call-live" && ev.Type == record.TypeCompleted {
			last = ev
		}
	}
	assert.Equal(t, record.StatusFailed, last.Call.Status)
	assert.True(t, last.Call.Interrupted)
	require.NotNil(t, last.Call.Hangup)
	assert.Equal(t, record.ByBridge, last.Call.Hangup.By)

	st, err := sqlite.Open(context.Background(), db)
	require.NoError(t, err)
	defer st.Close()
	c, err := st.GetCall(context.Background(), "call-live")
	require.NoError(t, err)
	assert.True(t, c.Final)
	assert.Equal(t, record.StatusFailed, c.Status)
	var rec record.CallRecord
	require.NoError(t, json.Unmarshal(c.Record, &rec))
	assert.True(t, rec.Interrupted, "the record says the call was interrupted")
}
