package bridge

import (
	"time"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/record"
)

// maxIntervals bounds a call's kept seconds (4 hours); the oldest go.
const maxIntervals = 4 * 3600

// meter turns the pipelines' cumulative counters into one record.Interval
// per second. Only the call's talk loop uses it.
type meter struct {
	up, down media.StreamSnapshot // the counters at the previous sample
}

func delta(cur, prev media.StreamSnapshot, rtt *float64, bpl float64) record.DirInterval {
	d := record.DirInterval{
		Packets:   int(cur.Packets - min(cur.Packets, prev.Packets)),
		Lost:      int(max(0, cur.Lost-prev.Lost)),
		Discarded: int(cur.Discarded - min(cur.Discarded, prev.Discarded)),
		JitterMs:  cur.JitterMs,
		RTTMs:     rtt,
		LevelDBov: cur.LevelDBov,
	}
	if d.Packets == 0 {
		d.JitterMs, d.LevelDBov = 0, -127
	}
	d.MOS = record.DirectionMOS(d, bpl)
	return d
}

// sample takes one second's interval at now.
func (m *meter) sample(c *Call, now time.Time) record.Interval {
	up, down := c.joint.snapshots()
	iv := record.Interval{At: now.UTC(), Held: c.onHold()}
	var rtt *float64
	if ms := c.sip.mediaSession(); ms != nil {
		if r := ms.rtcpInfo(); r.RTTMs != nil {
			v := *r.RTTMs
			rtt = &v
		}
	}
	bplUp := record.BplG711PLC
	if c.joint.browserCodec() == "opus" {
		bplUp = record.BplOpus
	}
	iv.Up = delta(up, m.up, nil, bplUp)
	iv.Down = delta(down, m.down, rtt, record.BplG711PLC)
	m.up, m.down = up, down
	return iv
}

// addInterval keeps one second of the call's media.
func (c *Call) addInterval(iv record.Interval) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.intervals) >= maxIntervals {
		c.intervals = append(c.intervals[:0], c.intervals[1:]...)
	}
	c.intervals = append(c.intervals, iv)
}

// Intervals returns a copy of the call's seconds so far.
func (c *Call) Intervals() []record.Interval {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]record.Interval(nil), c.intervals...)
}

// snapshots are both pipelines' counters now (zero before media).
func (j *joint) snapshots() (up, down media.StreamSnapshot) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.uplinkStat != nil {
		up = j.uplinkStat()
	}
	if j.downlink != nil {
		down = j.downlink.Stats()
	}
	return up, down
}

func (j *joint) browserCodec() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.browser == nil {
		return ""
	}
	return j.browser.InCodec().Name
}
