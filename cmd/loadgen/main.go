// Command loadgen places concurrent calls through a running bridge, the
// way agents' browsers would: each call is one signaling session with its
// own WebRTC peer connection streaming real Opus (a 1 kHz tone), calling a
// number that echoes. It reports call set-up times, whether the echo came
// back, and — given the bridge's pid — the bridge's CPU per call.
//
//	go run ./cmd/bridge &                      # demo mode: the built-in trunk echoes +15550100001
//	go run ./cmd/loadgen --calls 20 --duration 20s --bridge-pid $(pgrep -n bridge)
//
// Traffic goes only where --url points; keep it on loopback.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callbridge/callbridge/media/mediatest"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

type result struct {
	setup   time.Duration
	echoAmp float64
	err     error
}

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/v1/ws", "the bridge's WebSocket endpoint")
	tokenURL := flag.String("token-url", "http://127.0.0.1:8080/demo/token", "where to fetch a seat token (demo mode serves one)")
	token := flag.String("token", "", "a seat token (instead of --token-url)")
	calls := flag.Int("calls", 10, "concurrent calls")
	duration := flag.Duration("duration", 20*time.Second, "how long each call stays up after answer")
	ramp := flag.Duration("ramp", 50*time.Millisecond, "delay between call starts")
	number := flag.String("number", "+15550100001", "number to call (must echo the caller's audio)")
	fixture := flag.String("opus", filepath.Join(mediatest.FixtureDir(), mediatest.FixtureSilkNB), "Ogg/Opus file streamed by each caller")
	iceIP := flag.String("ice-ip", "127.0.0.1", "the clients' ICE address")
	pid := flag.Int("bridge-pid", 0, "pid of the bridge, to report its CPU use")
	flag.Parse()

	if err := run(*url, *tokenURL, *token, *calls, *duration, *ramp, *number, *fixture, *iceIP, *pid); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(url, tokenURL, token string, calls int, duration, ramp time.Duration, number, fixture, iceIP string, pid int) error {
	packets, err := mediatest.ReadOpusFile(fixture)
	if err != nil {
		return err
	}
	if token == "" {
		if token, err = fetchToken(tokenURL); err != nil {
			return err
		}
	}
	fmt.Printf("loadgen: %d calls to %s for %s each, via %s\n", calls, number, duration, url)
	results := make([]result, calls)
	var wg sync.WaitGroup
	var cpuStart cpuSample
	var cpuMid cpuSample
	var midOnce sync.Once
	if pid > 0 {
		cpuStart, _ = readCPU(pid)
	}
	allUp := make(chan struct{})
	var upCount sync.WaitGroup
	upCount.Add(calls)
	go func() { upCount.Wait(); close(allUp) }()
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var counted bool
			done := func() {
				if !counted {
					counted = true
					upCount.Done()
				}
			}
			defer done()
			results[i] = oneCall(url, token, number, packets, iceIP, duration, done, allUp)
		}(i)
		time.Sleep(ramp)
	}
	// CPU while every call is up: between all answered and the first hang-up.
	var steadyCPU float64
	var steadyDur time.Duration
	if pid > 0 {
		go func() {
			<-allUp
			midOnce.Do(func() { cpuMid, _ = readCPU(pid) })
		}()
	}
	wg.Wait()
	if pid > 0 && cpuMid.at.After(cpuStart.at) {
		end, err := readCPU(pid)
		if err == nil {
			steadyDur = end.at.Sub(cpuMid.at)
			steadyCPU = (end.cpu - cpuMid.cpu).Seconds() / steadyDur.Seconds()
		}
	}
	return report(results, calls, steadyCPU, steadyDur, pid)
}

func oneCall(url, token, number string, packets [][]byte, iceIP string, duration time.Duration, up func(), allUp <-chan struct{}) result {
	ctx, cancel := context.WithTimeout(context.Background(), duration+60*time.Second)
	defer cancel()
	c, err := sigclient.Dial(ctx, url, token, sigclient.Options{ICEIPs: []string{iceIP}})
	if err != nil {
		return result{err: err}
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return result{err: err}
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go c.StreamOpus(sctx, packets, 20*time.Millisecond)
	start := time.Now()
	if err := c.Send(map[string]any{"type": "call", "request_id": "load", "to": number}); err != nil {
		return result{err: err}
	}
	var callID string
	for {
		m, err := c.Next(ctx, "call_state", "error")
		if err != nil {
			return result{err: err}
		}
		if m.Type == "error" {
			var e sigclient.ErrorMsg
			_ = m.Decode(&e)
			return result{err: fmt.Errorf("%s: %s", e.Code, e.Message)}
		}
		var cs sigclient.CallState
		_ = m.Decode(&cs)
		callID = cs.CallID
		if cs.State == "answered" {
			break
		}
		if cs.State == "ended" {
			return result{err: errors.New("ended before answer")}
		}
	}
	r := result{setup: time.Since(start)}
	up()
	select {
	case <-allUp:
	case <-time.After(duration):
	}
	time.Sleep(duration / 2)
	pcm, _, _ := c.Received()
	if len(pcm) > 8000 {
		r.echoAmp = mediatest.ToneAmplitude(pcm[len(pcm)-8000:], 8000, 1000)
	}
	_ = c.Send(map[string]any{"type": "hangup", "call_id": callID})
	_, _ = c.Next(ctx, "call_state")
	return r
}

func report(results []result, calls int, cpu float64, over time.Duration, pid int) error {
	var setups []time.Duration
	failed, echoed := 0, 0
	errs := map[string]int{}
	for _, r := range results {
		if r.err != nil {
			failed++
			errs[r.err.Error()]++
			continue
		}
		setups = append(setups, r.setup)
		if r.echoAmp > 0.05 {
			echoed++
		}
	}
	slices.Sort(setups)
	pct := func(p float64) time.Duration {
		if len(setups) == 0 {
			return 0
		}
		return setups[min(len(setups)-1, int(p*float64(len(setups))))]
	}
	fmt.Printf("calls: %d answered, %d failed; echo heard on %d\n", len(setups), failed, echoed)
	fmt.Printf("set-up (call -> answered): p50 %s  p95 %s  max %s\n", pct(0.5).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	for e, n := range errs {
		fmt.Printf("  %d x %s\n", n, e)
	}
	if pid > 0 && over > 0 {
		fmt.Printf("bridge CPU with all %d calls up: %.1f %% of one core (%.2f %% per call), over %s\n",
			len(setups), cpu*100, cpu*100/float64(max(1, len(setups))), over.Round(time.Second))
	}
	if failed > 0 || echoed < len(setups) {
		return fmt.Errorf("%d of %d calls failed or had no echo", calls-echoed, calls)
	}
	return nil
}

func fetchToken(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var v struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || v.Token == "" {
		return "", fmt.Errorf("no token from %s: %v", url, err)
	}
	return v.Token, nil
}

type cpuSample struct {
	at  time.Time
	cpu time.Duration
}

// readCPU reads a process's user+system CPU time from /proc/PID/stat.
func readCPU(pid int) (cpuSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuSample{}, err
	}
	s := string(b)
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 (proc(5)), in clock ticks of 100 Hz.
	rest := s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(rest)
	if len(f) < 13 {
		return cpuSample{}, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return cpuSample{at: time.Now(), cpu: time.Duration(ut+st) * 10 * time.Millisecond}, nil
}
