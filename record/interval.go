package record

import (
	"math"
	"time"
)

// IntervalLength is the length of one measurement interval.
const IntervalLength = time.Second

// Interval is one second of a call's media, per direction.
type Interval struct {
	At   time.Time   `json:"at"`   // the end of the second
	Up   DirInterval `json:"up"`   // agent -> bridge (the browser leg, Opus or G.711)
	Down DirInterval `json:"down"` // far end -> bridge (the SIP leg, G.711)
	Held bool        `json:"held,omitempty"`
}

// DirInterval is what one direction did in one interval.
type DirInterval struct {
	Packets   int      `json:"packets"`
	Lost      int      `json:"lost"`      // sequence gaps (RFC 3550 §6.4.1), never negative
	Discarded int      `json:"discarded"` // late or duplicate, dropped by the jitter buffer
	JitterMs  float64  `json:"jitter_ms"` // RFC 3550 interarrival jitter at the end of the second
	RTTMs     *float64 `json:"rtt_ms,omitempty"`
	LevelDBov float64  `json:"level_dbov"`
	MOS       float64  `json:"mos,omitempty"` // 0 when no packets came
}

// LossPct is the interval's loss, discards included, in percent.
func (d DirInterval) LossPct() float64 {
	total := d.Packets + d.Lost
	if total == 0 {
		return 0
	}
	return 100 * float64(d.Lost+d.Discarded) / float64(total)
}

// Speech says whether the direction carried audio above the silence
// level in the interval.
func (d DirInterval) Speech() bool { return d.Packets > 0 && d.LevelDBov >= SilenceDBov }

// SilenceDBov is the level under which audio counts as silence (the media
// package's threshold).
const SilenceDBov = -55.0

// Codec robustness to loss (Bpl, G.113 Appendix I) for the E-model.
const (
	// BplG711PLC is G.711 with packet loss concealment.
	BplG711PLC = 25.1
	// BplOpus is an estimate for Opus voice with its own concealment
	// (G.113 lists no Opus value): Opus hides isolated losses better than
	// G.711's PLC, so its Bpl is set higher. With Ie = 0 like G.711: what
	// the far end hears is G.711 after the bridge in any case.
	BplOpus = 35.0
)

// DirectionMOS is the E-model MOS (G.107) of one direction's interval:
// one-way delay from half the RTT (when known), a jitter buffer of twice
// the jitter and 30 ms of packetisation and processing; loss includes
// jitter-buffer discards.
func DirectionMOS(d DirInterval, bpl float64) float64 {
	if d.Packets == 0 {
		return 0
	}
	delay := 2*d.JitterMs + 30
	if d.RTTMs != nil {
		delay += *d.RTTMs / 2
	}
	return EModelMOS(delay, d.LossPct(), bpl)
}

// Thresholds of the per-interval rules (the widely used WebRTC quality
// warnings: k of the last n one-second intervals raise, 0 of n clear).
const (
	RaiseK, RaiseN = 3, 5
	HighLossPct    = 1.0
	HighJitterMs   = 30.0
	HighRTTMs      = 400.0
	LowMOS         = 3.5
	// One direction silent while the other carries speech: raised when
	// that held for SilentK of the last SilentN seconds and the other side
	// spoke in at least SilentTalkK of them (a long listen is normal,
	// both sides silent is a pause); cleared after SilentClear seconds
	// without it.
	SilentK, SilentN, SilentTalkK, SilentClear = 18, 20, 10, 3
	// OneWaySustained is how long a direction must stay dead while the
	// other carries speech for the call's one_way_audio.
	OneWaySustained = 10
)

// Finding codes of the per-interval rules, by direction ("up", "down").
const (
	FindingLoss   = "high-packet-loss"
	FindingJitter = "high-jitter"
	FindingRTT    = "high-rtt"
	FindingMOS    = "low-mos"
	FindingSilent = "one-sided-silence"
)

// IntervalFinding is a per-interval rule's raise and clear.
type IntervalFinding struct {
	Code      string    `json:"code"`
	Direction string    `json:"direction"` // "up" or "down"
	RaisedAt  time.Time `json:"raised_at"`
	ClearedAt time.Time `json:"cleared_at,omitzero"` // zero while raised
}

// Active says whether the finding is raised at the end of the intervals.
func (f IntervalFinding) Active() bool { return f.ClearedAt.IsZero() }

// Evaluate runs the per-interval rules over a call's intervals in order,
// with hysteresis, and returns every raise (and its clear). Held
// intervals neither raise nor count. muted says, per interval, whether
// the agent had muted the microphone (nil: never): then the agent's
// silence is expected.
func Evaluate(iv []Interval, muted func(Interval) bool) []IntervalFinding {
	type rule struct {
		code, dir string
		hit       func(i int) bool
		k, n      int
		clearN    int
		// ok says whether interval i can be judged at all.
	}
	dirOf := func(x Interval, dir string) DirInterval {
		if dir == "up" {
			return x.Up
		}
		return x.Down
	}
	other := func(dir string) string {
		if dir == "up" {
			return "down"
		}
		return "up"
	}
	var rules []rule
	for _, dir := range []string{"up", "down"} {
		dir := dir
		rules = append(rules,
			rule{FindingLoss, dir, func(i int) bool { d := dirOf(iv[i], dir); return d.Packets > 0 && d.LossPct() > HighLossPct }, RaiseK, RaiseN, RaiseN},
			rule{FindingJitter, dir, func(i int) bool { d := dirOf(iv[i], dir); return d.Packets > 0 && d.JitterMs > HighJitterMs }, RaiseK, RaiseN, RaiseN},
			rule{FindingMOS, dir, func(i int) bool { d := dirOf(iv[i], dir); return d.Packets > 0 && d.MOS > 0 && d.MOS < LowMOS }, RaiseK, RaiseN, RaiseN},
			rule{FindingRTT, dir, func(i int) bool { d := dirOf(iv[i], dir); return d.RTTMs != nil && *d.RTTMs > HighRTTMs }, RaiseK, RaiseN, RaiseN},
			rule{FindingSilent, dir, func(i int) bool {
				if dir == "up" && muted != nil && muted(iv[i]) {
					return false
				}
				return !dirOf(iv[i], dir).Speech() && dirOf(iv[i], other(dir)).Speech()
			}, SilentK, SilentN, SilentClear},
		)
	}
	var out []IntervalFinding
	for _, r := range rules {
		var hits []bool // over the unheld intervals so far
		var open *IntervalFinding
		for i := range iv {
			if iv[i].Held {
				continue
			}
			hits = append(hits, r.hit(i))
			count := func(n int) int {
				c := 0
				for _, h := range hits[max(0, len(hits)-n):] {
					if h {
						c++
					}
				}
				return c
			}
			raise := count(r.n) >= r.k
			if r.code == FindingSilent && raise {
				talk := 0
				for j := max(0, i-r.n+1); j <= i; j++ {
					if dirOf(iv[j], other(r.dir)).Speech() {
						talk++
					}
				}
				raise = talk >= SilentTalkK
			}
			switch {
			case open == nil && raise:
				out = append(out, IntervalFinding{Code: r.code, Direction: r.dir, RaisedAt: iv[i].At})
				open = &out[len(out)-1]
			case open != nil && len(hits) >= r.clearN && count(r.clearN) == 0:
				open.ClearedAt = iv[i].At
				open = nil
			}
		}
	}
	return out
}

// Summarize is the call's quality from its intervals: per direction the
// totals, jitter mean and max, MOS mean and worst interval, RTT and the
// seconds the direction was dead while the other carried speech;
// one_way_audio only when such a run lasted OneWaySustained seconds.
func Summarize(iv []Interval, findings []IntervalFinding) Quality {
	var q Quality
	q.Uplink = summarizeDir(iv, func(x Interval) (DirInterval, DirInterval) { return x.Up, x.Down })
	q.Downlink = summarizeDir(iv, func(x Interval) (DirInterval, DirInterval) { return x.Down, x.Up })
	q.OneWayAudio = q.Uplink.longestOneWay >= OneWaySustained || q.Downlink.longestOneWay >= OneWaySustained
	switch {
	case q.Uplink.MOSMean > 0 && q.Downlink.MOSMean > 0:
		q.MOS = math.Min(q.Uplink.MOSMean, q.Downlink.MOSMean)
	default:
		q.MOS = math.Max(q.Uplink.MOSMean, q.Downlink.MOSMean)
	}
	seen := map[string]bool{}
	for _, f := range findings {
		code := f.Direction + ":" + f.Code
		if !seen[code] {
			seen[code] = true
			q.Findings = append(q.Findings, code)
		}
	}
	return q
}

func summarizeDir(iv []Interval, pick func(Interval) (this, other DirInterval)) LegQuality {
	var l LegQuality
	var jSum, mSum, rSum float64
	var jN, mN, rN, run int
	speech := false
	for _, x := range iv {
		d, o := pick(x)
		l.Packets += int64(d.Packets)
		l.Lost += int64(d.Lost)
		l.Discarded += int64(d.Discarded)
		if d.Speech() {
			speech = true
		}
		if d.Packets > 0 {
			jSum += d.JitterMs
			jN++
			l.JitterMaxMS = math.Max(l.JitterMaxMS, d.JitterMs)
		}
		if d.MOS > 0 {
			mSum += d.MOS
			mN++
			if l.MOSWorst == 0 || d.MOS < l.MOSWorst {
				l.MOSWorst = d.MOS
			}
		}
		if d.RTTMs != nil {
			rSum += *d.RTTMs
			rN++
		}
		if !x.Held && !d.Speech() && o.Speech() {
			l.OneWaySeconds++
			run++
			l.longestOneWay = max(l.longestOneWay, run)
		} else if !x.Held {
			run = 0
		}
	}
	if jN > 0 {
		l.JitterMS = round2(jSum / float64(jN))
	}
	if mN > 0 {
		l.MOSMean = round2(mSum / float64(mN))
	}
	if rN > 0 {
		v := round2(rSum / float64(rN))
		l.RTTMs = &v
	}
	l.JitterMaxMS = round2(l.JitterMaxMS)
	l.Silent = !speech
	return l
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
