// Command loadgen measures the bridge under load with whole calls, the way
// agents' browsers and a carrier would make them:
//
//   - each call is a signaling session with its own pion peer connection
//     (ICE, DTLS, SRTP) streaming Opus from a committed fixture every 20 ms;
//     all of them share one UDP socket (an ICE UDP mux) on 127.0.0.1;
//   - the far end is a SIP user agent server in this process that answers
//     over the network and streams PCMU back every 20 ms, so the bridge runs
//     as its own process and its CPU is its own;
//   - every packet is matched end to end: the far end writes its call and
//     frame number into each PCMU payload, which the bridge passes to the
//     browser byte for byte; the uplink is matched by the G.711 timestamp
//     (see uplinkStats.analyse).
//
// It reports per direction loss, late packets and latency percentiles and
// histograms, set-up latencies (call → INVITE, call → answered, answered →
// first downlink packet), and the bridge's CPU, RSS, FDs and goroutines at
// idle, with all calls up and after they ended, as JSON.
//
//	go build -o /tmp/bridge ./cmd/bridge
//	go run ./cmd/loadgen --bridge /tmp/bridge --calls 100 --rate 10 --hold 30s --json out.json
//
// Traffic stays on 127.0.0.1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/callbridge/callbridge/media/mediatest"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bridge", "", "bridge binary to start (go build -o /tmp/bridge ./cmd/bridge)")
	flag.StringVar(&o.rtpengine, "rtpengine", "", "instead of a bridge, start this rtpengine binary and drive it over ng (the comparison peer)")
	flag.IntVar(&o.calls, "calls", 10, "concurrent calls (N)")
	flag.Float64Var(&o.rate, "rate", 10, "calls started per second while ramping up (and hung up per second at the end)")
	flag.DurationVar(&o.hold, "hold", 20*time.Second, "how long all N calls stay up together (the measuring window)")
	flag.StringVar(&o.opus, "opus", "silknb", "uplink audio: silknb, silkwb, hybridfb, celt (committed fixtures) or an Ogg/Opus file")
	flag.DurationVar(&o.late, "late", 40*time.Millisecond, "a packet later than this end to end counts as late")
	flag.DurationVar(&o.ring, "ring", 0, "far end rings this long before answering")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "wait before the idle sample and after the last call, before the after sample")
	flag.StringVar(&o.rtpPorts, "rtp-ports", "30000-31999", "the bridge's sip.rtp_ports")
	flag.IntVar(&o.udpPort, "webrtc-udp-port", 0, "the bridge's webrtc.udp_port (0 = a port per peer connection)")
	flag.BoolVar(&o.admission, "admission", false, "keep the bridge's admission control on (overload runs); off, the bridge takes every call")
	flag.StringVar(&o.jsonOut, "json", "", "write the report as JSON to this file (- = stdout)")
	flag.StringVar(&o.goroutines, "goroutines", "", "write the bridge's goroutine dump (all calls up) here (needs the admin API)")
	flag.StringVar(&o.profile, "cpuprofile", "", "write the bridge's CPU profile of the measuring window here (needs the admin API)")
	var env string
	flag.StringVar(&env, "bridge-env", "", "extra environment of the bridge, comma-separated (GOGC=200,GOMEMLIMIT=1GiB)")
	flag.Parse()
	// The generator shares the machine with the bridge: fewer GC cycles
	// leave more of it to the bridge.
	debug.SetGCPercent(400)
	if env != "" {
		o.env = strings.Split(env, ",")
	}
	rep, err := run(context.Background(), o, os.Stdout)
	if rep != nil {
		if werr := writeJSON(o.jsonOut, rep); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type options struct {
	bin        string
	rtpengine  string
	calls      int
	rate       float64
	hold       time.Duration
	opus       string
	late       time.Duration
	ring       time.Duration
	settle     time.Duration
	rtpPorts   string
	udpPort    int
	jsonOut    string
	profile    string
	env        []string
	goroutines string
	admission  bool
}

func writeJSON(path string, rep *report) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

var fixtures = map[string]string{
	"silknb":   mediatest.FixtureSilkNB,
	"silkwb":   mediatest.FixtureSilkWB,
	"hybridfb": mediatest.FixtureHybridFB,
	"celt":     mediatest.FixtureCELT,
}

// run places o.calls calls through a bridge it starts and measures them.
// The whole run is bounded: ramp time, hold, hang-up time and two minutes.
func run(ctx context.Context, o options, log io.Writer) (*report, error) {
	if (o.bin == "") == (o.rtpengine == "") {
		return nil, fmt.Errorf("give one of --bridge and --rtpengine")
	}
	if o.calls < 1 || o.rate <= 0 || o.hold <= 0 {
		return nil, fmt.Errorf("need --calls ≥ 1, --rate > 0, --hold > 0")
	}
	path := o.opus
	if f, ok := fixtures[o.opus]; ok {
		path = filepath.Join(mediatest.FixtureDir(), f)
	}
	opus, err := mediatest.ReadOpusFile(path)
	if err != nil {
		return nil, err
	}
	rampTime := time.Duration(float64(o.calls) / o.rate * float64(time.Second))
	ctx, cancel := context.WithTimeout(ctx, 2*rampTime+o.hold+2*o.settle+2*time.Minute)
	defer cancel()

	table := &callTable{byNum: map[string]*loadCall{}}
	far, err := startFarEnd(table, o.ring)
	if err != nil {
		return nil, err
	}
	defer far.close()
	cs, err := newClients()
	if err != nil {
		return nil, err
	}
	defer cs.close()
	var (
		br         *bridgeProc
		eng        *rtpengine
		pid        int
		metricsURL string
		peer       = "bridge"
	)
	if o.rtpengine != "" {
		if eng, err = startRTPEngine(ctx, o.rtpengine, o.rtpPorts); err != nil {
			return nil, err
		}
		defer eng.stop()
		pid, peer = eng.pid(), "rtpengine"
	} else {
		br, err = startBridge(ctx, bridgeOptions{bin: o.bin, seats: o.calls, trunk: far.addr.String(),
			rtpPorts: o.rtpPorts, udpPort: o.udpPort, logLevel: "warn", env: o.env, admission: o.admission})
		if err != nil {
			return nil, err
		}
		defer func() {
			br.stop()
			_ = os.RemoveAll(br.dir)
		}()
		pid, metricsURL = br.pid(), br.metricsURL()
	}
	rep := &report{Params: reportParams{Peer: peer, Admission: o.admission, Calls: o.calls, Rate: o.rate, Hold: o.hold.String(), Opus: filepath.Base(path),
		Late: o.late.String(), WebRTCUDPPort: o.udpPort, BridgeEnv: o.env},
		Machine: reportMachine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}}
	fmt.Fprintf(log, "loadgen: %d calls at %.1f/s, %s together, %s; %s pid %d\n", o.calls, o.rate, o.hold, rep.Params.Opus, peer, pid)

	sleep(ctx, o.settle)
	rcvbuf0, inerr0 := udpErrors()
	var lost0, lost1 map[string]float64
	if metricsURL != "" {
		lost0, _ = scrape(metricsURL)
	}
	rep.Bridge.Idle, _ = sampleProc(pid, metricsURL)
	self0, _ := sampleProc(os.Getpid(), "")

	pctx, stopPacer := context.WithCancel(ctx)
	pacerDone := make(chan struct{})
	pc := newPacer(opus)
	go func() {
		defer close(pacerDone)
		pc.run(pctx, 4)
	}()
	defer func() { stopPacer(); <-pacerDone }()

	calls := make([]*loadCall, o.calls)
	placed := make(chan int, o.calls) // index of each call once answered or failed
	release := make(chan struct{})    // closed at the end of the window
	finished := make(chan struct{}, o.calls)
	hangGap := time.Duration(float64(time.Second) / o.rate)
	launched := 0
	defer func() { // on every path: no call goroutine outlives the run
		cancel()
		for range launched {
			<-finished
		}
		for _, c := range calls {
			if c != nil {
				c.close() // again after a normal end: closing is idempotent
			}
		}
	}()
	start := time.Now()
	for i := range calls {
		c := newLoadCall(i, eng != nil)
		calls[i] = c
		table.add(c)
		pc.add(c)
		var token string
		if br != nil {
			if token, err = mintToken(br.secret, i); err != nil {
				return nil, err
			}
		}
		launched++
		go func() {
			defer func() { finished <- struct{}{} }()
			// One call's set-up is bounded on its own: a stuck call fails
			// with its reason instead of holding up the run.
			pctx, cancelPlace := context.WithTimeout(ctx, setupTimeout)
			var err error
			if eng != nil {
				err = c.placeRTPEngine(pctx, cs, eng, far)
			} else {
				err = c.place(pctx, cs, br.wsURL(), token)
			}
			cancelPlace()
			placed <- i
			if err != nil {
				c.fail(err)
				c.streamUp.Store(false)
				c.close() // a refused agent's peer connection goes away too
				return
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			// hang up in call order at the ramp rate
			sleep(ctx, time.Duration(i)*hangGap)
			hang := c.hangUp
			if eng != nil {
				hang = func(ctx context.Context, d time.Duration) error { return c.hangUpRTPEngine(ctx, eng, d) }
			}
			if err := hang(ctx, 300*time.Millisecond); err != nil {
				c.fail(err)
			}
		}()
		sleep(ctx, time.Until(start.Add(time.Duration(i+1)*hangGap)))
	}
	for range calls {
		select {
		case <-placed:
		case <-ctx.Done():
			return rep, fmt.Errorf("calls not placed: %w", ctx.Err())
		}
	}
	up := 0
	for _, c := range calls {
		if c.failure() == nil {
			up++
		}
	}
	fmt.Fprintf(log, "loadgen: %d of %d calls up after %s; measuring for %s\n", up, o.calls, time.Since(start).Round(time.Millisecond), o.hold)
	rep.Bridge.AtN, _ = sampleProc(pid, metricsURL)
	if o.goroutines != "" && br != nil {
		if err := fetchAdmin(ctx, br, "/v1/admin/debug/pprof/goroutine?debug=1", o.goroutines); err != nil {
			fmt.Fprintln(log, "loadgen: goroutines:", err)
		}
	}
	profDone := make(chan error, 1)
	if o.profile != "" && br != nil {
		go func() { profDone <- fetchProfile(ctx, br, o.hold, o.profile) }()
	} else {
		profDone <- nil
	}
	sleep(ctx, o.hold)
	rep.Bridge.AtNEnd, _ = sampleProc(pid, metricsURL)
	if err := <-profDone; err != nil {
		fmt.Fprintln(log, "loadgen: profile:", err)
	}
	close(release)
	for range launched {
		<-finished
	}
	launched = 0
	stopPacer()
	<-pacerDone
	for _, c := range calls {
		c.close()
	}
	sleep(ctx, o.settle)
	rep.Bridge.After, _ = sampleProc(pid, metricsURL)
	self1, _ := sampleProc(os.Getpid(), "")
	if metricsURL != "" {
		lost1, _ = scrape(metricsURL)
	}
	rcvbuf1, inerr1 := udpErrors()
	rep.UDPRcvbufErrors, rep.UDPInErrors = rcvbuf1-rcvbuf0, inerr1-inerr0
	rep.Generator.CPUSeconds = (self1.CPU - self0.CPU).Seconds()
	rep.Generator.PacerLate = percentiles(pc.lateness())
	rep.Generator.KeptUp = rep.Generator.PacerLate.P99 <= keptUpMs
	rep.summarise(calls, up, o.late, lost0, lost1)
	rep.print(log)
	if rep.Calls.Answered == 0 {
		return rep, fmt.Errorf("no call was answered")
	}
	return rep, nil
}

// setupTimeout bounds one call's set-up (signaling, ICE, DTLS, answer).
const setupTimeout = 45 * time.Second

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
