package record

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

const (
	talk  = -20.0
	quiet = -70.0
)

// call builds n seconds; f sets each second's figures before MOS is
// computed from them.
func call(n int, f func(s int, iv *Interval)) []Interval {
	out := make([]Interval, n)
	for s := range out {
		iv := Interval{At: t0.Add(time.Duration(s+1) * time.Second),
			Up:   DirInterval{Packets: 50, JitterMs: 2, LevelDBov: talk},
			Down: DirInterval{Packets: 50, JitterMs: 2, LevelDBov: talk}}
		f(s, &iv)
		iv.Up.MOS = DirectionMOS(iv.Up, BplOpus)
		iv.Down.MOS = DirectionMOS(iv.Down, BplG711PLC)
		out[s] = iv
	}
	return out
}

// Conversations with 3 s of talk and 4 s of pause, in every phase and
// shape, and listening for a long time, never raise a finding nor count
// as one-way audio.
func TestTalkAndPausesNeverRaise(t *testing.T) {
	patterns := map[string]func(s int, iv *Interval){
		"both pause together": func(s int, iv *Interval) {
			if s%7 >= 3 {
				iv.Up.LevelDBov, iv.Down.LevelDBov = quiet, quiet
			}
		},
		"far end talks 3 s, pauses 4 s, agent listens": func(s int, iv *Interval) {
			iv.Up.LevelDBov = quiet
			if s%7 >= 3 {
				iv.Down.LevelDBov = quiet
			}
		},
		"agent talks 3 s, pauses 4 s, far end listens": func(s int, iv *Interval) {
			iv.Down.LevelDBov = quiet
			if s%7 >= 3 {
				iv.Up.LevelDBov = quiet
			}
		},
		"turns: each talks 3 s while the other listens, then 1 s of pause": func(s int, iv *Interval) {
			switch p := s % 8; {
			case p < 3:
				iv.Down.LevelDBov = quiet
			case p == 3 || p == 7:
				iv.Up.LevelDBov, iv.Down.LevelDBov = quiet, quiet
			default:
				iv.Up.LevelDBov = quiet
			}
		},
	}
	for name, p := range patterns {
		for phase := 0; phase < 7; phase++ {
			iv := call(120, func(s int, iv *Interval) { p(s+phase, iv) })
			f := Evaluate(iv, nil)
			assert.Empty(t, f, "%s, phase %d", name, phase)
			q := Summarize(iv, f)
			assert.False(t, q.OneWayAudio, "%s, phase %d", name, phase)
			assert.Empty(t, q.Findings)
		}
	}
}

// 10 % uplink loss and 5 % downlink loss with jitter, from second 10 to
// 40: raised within 5 s, cleared within 5 s of the fix; the call's
// figures match the induced truth.
func TestLossAndJitterRaiseAndClear(t *testing.T) {
	iv := call(60, func(s int, iv *Interval) {
		if s >= 10 && s < 40 {
			iv.Up.Packets, iv.Up.Lost = 45, 5      // 10 %
			iv.Down.Packets, iv.Down.Lost = 57, 3  // 5 %
			iv.Down.JitterMs = 35 + float64(s%3)*5 // 35..45 ms
		}
	})
	f := Evaluate(iv, nil)
	byKey := map[string]IntervalFinding{}
	for _, x := range f {
		byKey[x.Direction+":"+x.Code] = x
	}
	for _, k := range []string{"up:high-packet-loss", "down:high-packet-loss", "down:high-jitter"} {
		x, ok := byKey[k]
		require.True(t, ok, k)
		start, end := t0.Add(11*time.Second), t0.Add(41*time.Second)
		assert.True(t, !x.RaisedAt.Before(start) && x.RaisedAt.Sub(start) < 5*time.Second, "%s raised at %s", k, x.RaisedAt.Sub(t0))
		require.False(t, x.Active(), k)
		assert.True(t, !x.ClearedAt.Before(end) && x.ClearedAt.Sub(end) < 5*time.Second, "%s cleared at %s", k, x.ClearedAt.Sub(t0))
	}
	q := Summarize(iv, f)
	upLoss := 100 * float64(q.Uplink.Lost) / float64(q.Uplink.Packets+q.Uplink.Lost)
	assert.InDelta(t, 100*150.0/3000, upLoss, 1) // 150 lost of 3000 sent
	assert.Equal(t, int64(150), q.Uplink.Lost)
	assert.Equal(t, int64(90), q.Downlink.Lost)
	assert.Equal(t, 45.0, q.Downlink.JitterMaxMS)
	// The worst second is the formula's for that second's inputs.
	worst := EModelMOS(2*45+30, 5, BplG711PLC)
	assert.InDelta(t, worst, q.Downlink.MOSWorst, 0.2)
	assert.InDelta(t, EModelMOS(2*2+30, 10, BplOpus), q.Uplink.MOSWorst, 0.2)
	assert.Less(t, q.MOS, q.Uplink.MOSMean+0.001)
	assert.Contains(t, q.Findings, "down:high-jitter")
	assert.False(t, q.OneWayAudio)
}

// one_way_audio only when a direction stays dead while the other carries
// speech for 10 s; a call that ends in a few seconds of one-sided silence
// is not flagged; held seconds never count.
func TestOneWayAudioOnlyWhenSustained(t *testing.T) {
	endsInPause := call(30, func(s int, iv *Interval) {
		if s >= 26 {
			iv.Up.LevelDBov = quiet
		}
	})
	assert.False(t, Summarize(endsInPause, nil).OneWayAudio)
	assert.Equal(t, 4, Summarize(endsInPause, nil).Uplink.OneWaySeconds)

	dead := call(30, func(s int, iv *Interval) {
		if s >= 10 && s < 22 {
			iv.Down.Packets, iv.Down.LevelDBov = 0, -127
		}
	})
	q := Summarize(dead, Evaluate(dead, nil))
	assert.True(t, q.OneWayAudio)
	assert.Equal(t, 12, q.Downlink.OneWaySeconds)
	assert.Equal(t, int64(50*18), q.Downlink.Packets)

	held := call(60, func(s int, iv *Interval) {
		iv.Held = s >= 5
		if iv.Held {
			iv.Down.Packets, iv.Down.LevelDBov = 0, -127
			iv.Up.Packets, iv.Up.LevelDBov = 0, -127
		}
	})
	assert.Empty(t, Evaluate(held, nil))
	assert.False(t, Summarize(held, nil).OneWayAudio)
}

// A muted agent for 30 s while the far end talks: one-sided silence is
// raised on the uplink unless the widget said the agent muted.
func TestMutedAgent(t *testing.T) {
	iv := call(40, func(s int, iv *Interval) { iv.Up.LevelDBov = quiet })
	f := Evaluate(iv, nil)
	require.Len(t, f, 1)
	assert.Equal(t, "up", f[0].Direction)
	assert.Equal(t, FindingSilent, f[0].Code)
	assert.Empty(t, Evaluate(iv, func(Interval) bool { return true }))
}
