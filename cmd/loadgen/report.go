package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/callbridge/callbridge/auth"
)

type report struct {
	Params  reportParams  `json:"params"`
	Machine reportMachine `json:"machine"`
	Calls   struct {
		Attempted int            `json:"attempted"`
		Answered  int            `json:"answered"`
		Failed    int            `json:"failed"`
		Errors    map[string]int `json:"errors,omitempty"`
	} `json:"calls"`
	Setup struct {
		CallToInvite            pct `json:"call_to_invite"`
		CallToAnswered          pct `json:"call_to_answered"`
		AnsweredToFirstDownlink pct `json:"answered_to_first_downlink"`
		HangupToEnded           pct `json:"hangup_to_ended"`
	} `json:"setup"`
	Uplink          direction    `json:"uplink"`
	Downlink        direction    `json:"downlink"`
	Bridge          bridgeReport `json:"bridge"`
	Generator       genReport    `json:"generator"`
	UDPRcvbufErrors int64        `json:"udp_rcvbuf_errors"` // machine-wide, during the run
	UDPInErrors     int64        `json:"udp_in_errors"`
}

type reportParams struct {
	Peer          string   `json:"peer"` // bridge or rtpengine
	Admission     bool     `json:"admission"`
	Calls         int      `json:"calls"`
	Rate          float64  `json:"rate_per_s"`
	Hold          string   `json:"hold"`
	Opus          string   `json:"opus"`
	Late          string   `json:"late_threshold"`
	WebRTCUDPPort int      `json:"webrtc_udp_port"`
	BridgeEnv     []string `json:"bridge_env,omitempty"`
}

type reportMachine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go"`
}

// direction is one direction summed over all answered calls.
type direction struct {
	Expected int     `json:"expected"`
	Received int     `json:"received"`
	Lost     int     `json:"lost"`
	LossPct  float64 `json:"loss_pct"`
	Late     int     `json:"late"`
	Latency  pct     `json:"latency"`
	// Histogram counts packets by end-to-end latency: bucket i holds
	// those at most HistogramMs[i] (the last one: the rest).
	Histogram []int `json:"histogram"`
	// BridgeLost is what the bridge itself counted as lost on the way in
	// (callbridge_rtp_lost_total): the uplink's loss into the bridge is
	// concealed by its PLC and so is not visible at the far end.
	BridgeLost int `json:"bridge_counted_lost"`
	Misrouted  int `json:"misrouted,omitempty"`
	Unmarked   int `json:"unmarked,omitempty"`
	Duplicates int `json:"duplicates,omitempty"`
}

// HistogramMs are the upper bounds of the latency histogram's buckets.
var HistogramMs = []float64{0.25, 0.5, 1, 2, 3, 5, 10, 20, 40, 80, 160, 320, 640}

type bridgeReport struct {
	Idle   procSample `json:"idle"`
	AtN    procSample `json:"at_n"`     // all calls up, start of the window
	AtNEnd procSample `json:"at_n_end"` // end of the window
	After  procSample `json:"after"`    // all calls ended, after settling
	// CPU over the window, per call-second: the figure to compare.
	CPUMsPerCallSecond float64 `json:"cpu_ms_per_call_second"`
	CoresAtN           float64 `json:"cores_at_n"`
	RSSKBPerCall       float64 `json:"rss_kb_per_call"`
	GoroutinesPerCall  float64 `json:"goroutines_per_call"`
	FDsPerCall         float64 `json:"fds_per_call"`
}

type genReport struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	PacerLate  pct     `json:"pacer_late"` // how late the generator's 20 ms ticks were
	// KeptUp is false when the generator's own ticks were more than
	// keptUpMs late at p99: then the latencies measure the machine, not
	// the bridge, and the run says nothing about the bridge's limits.
	KeptUp bool `json:"kept_up"`
}

const keptUpMs = 10

// pct is a distribution in milliseconds.
type pct struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func percentiles(d []time.Duration) pct {
	if len(d) == 0 {
		return pct{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	at := func(p float64) float64 {
		i := min(len(d)-1, int(p*float64(len(d))))
		return float64(d[i].Microseconds()) / 1000
	}
	return pct{N: len(d), P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: at(1)}
}

func histogram(d []time.Duration) []int {
	h := make([]int, len(HistogramMs)+1)
	for _, l := range d {
		ms := float64(l.Microseconds()) / 1000
		h[sort.SearchFloat64s(HistogramMs, ms)]++
	}
	return h
}

func since(from, to int64) (time.Duration, bool) {
	if from == 0 || to == 0 {
		return 0, false
	}
	return time.Duration(to - from), true
}

func (r *report) summarise(calls []*loadCall, up int, late time.Duration, m0, m1 map[string]float64) {
	r.Calls.Attempted = len(calls)
	r.Calls.Errors = map[string]int{}
	var toInvite, toAnswer, toDown, toEnd, upLat, downLat []time.Duration
	for _, c := range calls {
		if err := c.failure(); err != nil && c.answeredAt == 0 {
			r.Calls.Failed++
			r.Calls.Errors[err.Error()]++
			continue
		} else if err != nil {
			r.Calls.Errors[err.Error()]++
		}
		r.Calls.Answered++
		if d, ok := since(c.callAt, c.inviteAt.Load()); ok {
			toInvite = append(toInvite, d)
		}
		if d, ok := since(c.callAt, c.answeredAt); ok {
			toAnswer = append(toAnswer, d)
		}
		if d, ok := since(c.hangupAt, c.endedAt); ok {
			toEnd = append(toEnd, d)
		}
		u := c.up.analyse(late)
		d := c.down.analyse(late)
		var first int64
		if c.downTS != nil {
			d = c.downTS.analyse(late)
			c.downTS.mu.Lock()
			if len(c.downTS.arr) > 0 {
				first = c.downTS.arr[0].at
			}
			c.downTS.mu.Unlock()
		}
		c.down.mu.Lock()
		if first == 0 {
			first = firstNonZero(c.down.recv)
		}
		if first != 0 {
			if dd, ok := since(c.answeredAt, first); ok {
				toDown = append(toDown, max(0, dd))
			}
		}
		r.Downlink.Duplicates += c.down.dups
		c.down.mu.Unlock()
		r.Downlink.Misrouted += int(c.down.misrouted.Load())
		r.Downlink.Unmarked += int(c.down.unmarked.Load())
		add(&r.Uplink, u)
		add(&r.Downlink, d)
		upLat = append(upLat, u.latencies...)
		downLat = append(downLat, d.latencies...)
	}
	r.Setup.CallToInvite = percentiles(toInvite)
	r.Setup.CallToAnswered = percentiles(toAnswer)
	r.Setup.AnsweredToFirstDownlink = percentiles(toDown)
	r.Setup.HangupToEnded = percentiles(toEnd)
	for _, x := range []struct {
		d   *direction
		lat []time.Duration
		key string
	}{{&r.Uplink, upLat, `callbridge_rtp_lost_total{direction="uplink"}`}, {&r.Downlink, downLat, `callbridge_rtp_lost_total{direction="downlink"}`}} {
		x.d.Latency = percentiles(x.lat)
		x.d.Histogram = histogram(x.lat)
		if x.d.Expected > 0 {
			x.d.LossPct = 100 * float64(x.d.Lost) / float64(x.d.Expected)
		}
		x.d.BridgeLost = int(m1[x.key] - m0[x.key])
	}
	b := &r.Bridge
	if w := b.AtNEnd.At.Sub(b.AtN.At).Seconds(); w > 0 && up > 0 {
		cpu := (b.AtNEnd.CPU - b.AtN.CPU).Seconds()
		b.CoresAtN = cpu / w
		b.CPUMsPerCallSecond = 1000 * cpu / w / float64(up)
		b.RSSKBPerCall = float64(b.AtNEnd.RSSKB-b.Idle.RSSKB) / float64(up)
		b.GoroutinesPerCall = float64(b.AtNEnd.Goroutines-b.Idle.Goroutines) / float64(up)
		b.FDsPerCall = float64(b.AtNEnd.FDs-b.Idle.FDs) / float64(up)
	}
}

func firstNonZero(v []int64) int64 {
	for _, x := range v {
		if x != 0 {
			return x
		}
	}
	return 0
}

func add(d *direction, r dirResult) {
	d.Expected += r.expected
	d.Received += r.received
	d.Lost += r.lost
	d.Late += r.late
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "calls: %d answered, %d failed of %d\n", r.Calls.Answered, r.Calls.Failed, r.Calls.Attempted)
	for e, n := range r.Calls.Errors {
		fmt.Fprintf(w, "  %d × %s\n", n, e)
	}
	s := r.Setup
	fmt.Fprintf(w, "set-up p50/p99 ms: call→INVITE %.1f/%.1f  call→answered %.1f/%.1f  answered→first downlink %.1f/%.1f\n",
		s.CallToInvite.P50, s.CallToInvite.P99, s.CallToAnswered.P50, s.CallToAnswered.P99, s.AnsweredToFirstDownlink.P50, s.AnsweredToFirstDownlink.P99)
	for _, d := range []struct {
		name string
		d    direction
	}{{"uplink  ", r.Uplink}, {"downlink", r.Downlink}} {
		fmt.Fprintf(w, "%s: %d/%d received, lost %d (%.3f %%), bridge counted %d lost, late %d; latency ms p50 %.2f p90 %.2f p99 %.2f max %.1f\n",
			d.name, d.d.Received, d.d.Expected, d.d.Lost, d.d.LossPct, d.d.BridgeLost, d.d.Late, d.d.Latency.P50, d.d.Latency.P90, d.d.Latency.P99, d.d.Latency.Max)
	}
	b := r.Bridge
	fmt.Fprintf(w, "%s: %.2f ms CPU per call-second (%.2f cores); per call %.0f KB RSS, %.1f goroutines, %.1f FDs\n", r.Params.Peer,
		b.CPUMsPerCallSecond, b.CoresAtN, b.RSSKBPerCall, b.GoroutinesPerCall, b.FDsPerCall)
	for _, x := range []struct {
		n string
		s procSample
	}{{"idle", b.Idle}, {"at N", b.AtNEnd}, {"after", b.After}} {
		fmt.Fprintf(w, "  %-5s RSS %d KB, %d goroutines, %d FDs, %d threads, load %s\n", x.n, x.s.RSSKB, x.s.Goroutines, x.s.FDs, x.s.Threads, x.s.LoadAvg)
	}
	if !r.Generator.KeptUp {
		fmt.Fprintln(w, "WARNING: the generator fell behind its own 20 ms pacing: latencies are the machine's, not the bridge's")
	}
	fmt.Fprintf(w, "generator: %.1f s CPU; pacer late p50 %.2f p99 %.2f max %.1f ms; UDP rcvbuf errors %d\n",
		r.Generator.CPUSeconds, r.Generator.PacerLate.P50, r.Generator.PacerLate.P99, r.Generator.PacerLate.Max, r.UDPRcvbufErrors)
}

func mintToken(secret []byte, i int) (string, error) {
	return auth.Mint(secret, seatID(i), 6*time.Hour, nil)
}

// fetchProfile saves the bridge's CPU profile over d from its admin API.
func fetchProfile(ctx context.Context, br *bridgeProc, d time.Duration, path string) error {
	return fetchAdmin(ctx, br, fmt.Sprintf("/v1/admin/debug/pprof/profile?seconds=%d", int(d.Seconds())), path)
}

// fetchAdmin saves what an admin API path returns.
func fetchAdmin(ctx context.Context, br *bridgeProc, path, file string) error {
	url := "http://" + br.httpAddr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+br.adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, res.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, res.Body)
	return err
}
