package main

import (
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke places a few short calls through a real bridge process and
// checks that the generator measured what it claims to measure: both
// directions matched packet by packet, set-up latencies, and the bridge's
// resources. It checks shapes, never speeds.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bridge")
	}
	bin := filepath.Join(t.TempDir(), "bridge")
	build := exec.Command("go", "build", "-o", bin, "github.com/callbridge/callbridge/cmd/bridge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const calls = 3
	rep, err := run(context.Background(), options{bin: bin, calls: calls, rate: 20, hold: 2 * time.Second,
		opus: "silknb", late: 40 * time.Millisecond, settle: 200 * time.Millisecond, rtpPorts: "31000-31099"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls.Answered != calls || rep.Calls.Failed != 0 {
		t.Fatalf("calls: %+v", rep.Calls)
	}
	for name, d := range map[string]direction{"uplink": rep.Uplink, "downlink": rep.Downlink} {
		// 2 s together: at least 100 frames per call each way.
		if d.Received < calls*100 || d.Received > d.Expected || d.Lost != d.Expected-d.Received {
			t.Errorf("%s: received %d of %d expected, lost %d", name, d.Received, d.Expected, d.Lost)
		}
		if d.Latency.N != d.Received || d.Latency.P50 < 0 || d.Latency.P50 > d.Latency.Max {
			t.Errorf("%s latency: %+v", name, d.Latency)
		}
		sum := 0
		for _, n := range d.Histogram {
			sum += n
		}
		if sum != d.Received {
			t.Errorf("%s histogram holds %d packets, %d received", name, sum, d.Received)
		}
	}
	if rep.Downlink.Misrouted != 0 || rep.Downlink.Unmarked != 0 {
		t.Errorf("downlink: %d misrouted, %d unmarked packets", rep.Downlink.Misrouted, rep.Downlink.Unmarked)
	}
	s := rep.Setup
	for name, p := range map[string]pct{"call→INVITE": s.CallToInvite, "call→answered": s.CallToAnswered, "answered→downlink": s.AnsweredToFirstDownlink, "hangup→ended": s.HangupToEnded} {
		if p.N != calls {
			t.Errorf("%s measured on %d calls, want %d", name, p.N, calls)
		}
	}
	if s.CallToInvite.Max > s.CallToAnswered.Max {
		t.Errorf("INVITE after the answer: %+v vs %+v", s.CallToInvite, s.CallToAnswered)
	}
	b := rep.Bridge
	if b.Idle.RSSKB == 0 || b.Idle.Goroutines == 0 || b.AtNEnd.CallsUp != calls || b.After.CallsUp != 0 {
		t.Errorf("bridge samples: idle %+v, at N %+v, after %+v", b.Idle, b.AtNEnd, b.After)
	}
	if b.AtNEnd.Goroutines <= b.Idle.Goroutines || b.CPUMsPerCallSecond <= 0 {
		t.Errorf("bridge under load: %+v", b)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

func TestMark(t *testing.T) {
	p := make([]byte, 160)
	markPayload(p, 4242, 1<<31+7)
	call, frame, ok := readMark(p)
	if !ok || call != 4242 || frame != 1<<31+7 {
		t.Fatalf("readMark = %d, %d, %v", call, frame, ok)
	}
	if _, _, ok := readMark(tonePCMU); ok {
		t.Fatal("plain tone read as marked")
	}
}

// TestUplinkCalibration: the far end's timestamps are matched to the
// browser's frames even when the first frames never reached it.
func TestUplinkCalibration(t *testing.T) {
	var u uplinkStats
	t0 := time.Unix(1000, 0)
	for n := range 100 {
		u.sentFrame(uint32(n), t0.Add(time.Duration(n)*20*time.Millisecond))
	}
	// Frames 30..99 arrive, 2 ms after they left, except 50 (lost) and
	// 60 (35 ms late); the G.711 timestamps start anywhere.
	for n := 30; n < 100; n++ {
		lat := 2 * time.Millisecond
		switch n {
		case 50:
			continue
		case 60:
			lat = 35 * time.Millisecond
		}
		u.arrived(uint32(0xfffff000+160*(n-30)), t0.Add(time.Duration(n)*20*time.Millisecond+lat))
	}
	r := u.analyse(30 * time.Millisecond)
	if r.expected != 70 || r.received != 69 || r.lost != 1 || r.late != 1 {
		t.Fatalf("expected %d received %d lost %d late %d", r.expected, r.received, r.lost, r.late)
	}
	for _, l := range r.latencies {
		if l != 2*time.Millisecond && l != 35*time.Millisecond {
			t.Fatalf("latency %s", l)
		}
	}
}
