package media

import (
	"fmt"
	"math"
)

// Packet loss concealment at 8 kHz in the spirit of ITU-T G.711 Appendix I:
// on loss, estimate the pitch period of the recent history by normalised
// autocorrelation and repeat the last period; hold full level for the
// first 10 ms, then fade linearly to silence at 60 ms (Appendix I's 20 %
// per 10 ms); when audio comes back, cross-fade from the concealment into it
// so there is no click, and hold the level near the pre-loss level for a
// while, since the decoder resumes from reset state (see opusDecoder). pion/opus v0.1.0 has no PLC of its own and rejects
// empty packets, so this stage is what keeps a lost packet from being a hard
// cut to zero.
const (
	plcRate       = 8000
	plcMinPitch   = 40  // 200 Hz
	plcMaxPitch   = 120 // 66.7 Hz
	plcCorrLen    = 160 // 20 ms correlation window
	plcHistory    = plcMaxPitch + plcCorrLen
	plcHoldLen    = 80   // 10 ms at full level
	plcFadeEnd    = 480  // 60 ms: silent from here
	plcFillMax    = 1600 // conceal + comfort silence up to 200 ms, then a real gap
	plcRecoverLen = 40   // 5 ms cross-fade back into real audio
	// Post-loss limiter: for 300 ms after a loss the level may exceed the
	// pre-loss level (the larger of the last 20 ms and a 0.5 s average) by
	// at most 1 dB, and is never limited below -20 dBov so speech starting
	// right after a loss in silence is not ducked. Gain moves linearly over
	// 2.5 ms blocks so it never steps.
	plcGuardLen      = 2400
	plcGuardBlock    = 20
	plcGuardHeadroom = 1.26                 // +1 dB in power
	plcGuardFloorMS  = 0.01 * 32768 * 32768 // -20 dBov
)

// plc is the concealment stage. Not safe for concurrent use.
type plc struct {
	next    pcmStage
	hist    [plcHistory]int16 // most recent audio, oldest first
	histLen int               // valid samples at the end of hist
	lost    int               // samples concealed in the current loss; 0 = not in loss
	pitch   int
	pos     int // position in the repeated period
	buf     [maxFrameSamples8k]int16
	// Energy glue after a loss (what libopus does in silk_PLC_glue_frames):
	// the decoder resumes with stale state and can overshoot for a few
	// frames, so the level is held near the pre-loss level for a while.
	guard int     // samples left under the limiter
	refMS float64 // mean square the limiter allows
	gain  float64 // current limiter gain
	level float64 // slow (0.5 s) mean square of audio outside loss and guard
}

func newPLC(next pcmStage) *plc { return &plc{next: next} }

func (p *plc) SampleRate() int { return plcRate }

func (p *plc) String() string { return fmt.Sprintf("PLC(%d) -> %s", plcRate, p.next.String()) }

func (p *plc) WriteSamples(s []int16) error {
	if p.lost == 0 && p.guard == 0 {
		p.remember(s)
		p.track(s)
		return p.next.WriteSamples(s)
	}
	if p.lost == 0 {
		for len(s) > 0 { // still under the post-loss limiter
			k := copy(p.buf[:], s)
			p.limit(p.buf[:k])
			p.remember(p.buf[:k])
			if err := p.next.WriteSamples(p.buf[:k]); err != nil {
				return err
			}
			s = s[k:]
		}
		return nil
	}
	if len(s) > len(p.buf) {
		if err := p.WriteSamples(s[:len(p.buf)]); err != nil {
			return err
		}
		return p.WriteSamples(s[len(p.buf):])
	}
	// Cross-fade the continued concealment into the new audio.
	n := min(len(s), plcRecoverLen)
	for i := range n {
		c := int32(p.synth(p.lost + i))
		w := int32(i+1) * 256 / int32(n+1)
		p.buf[i] = int16((int32(s[i])*w + c*(256-w)) / 256)
	}
	if p.guard == 0 {
		p.gain = 1
	}
	p.guard = plcGuardLen
	p.refMS = max(max(p.level, p.preLossMS())*plcGuardHeadroom, plcGuardFloorMS)
	p.lost = 0
	copy(p.buf[n:len(s)], s[n:])
	out := p.buf[:len(s)]
	p.limit(out)
	p.remember(out)
	return p.next.WriteSamples(out)
}

// limit applies the post-loss limiter in place, in blocks, moving the gain
// linearly across each block so it never steps.
func (p *plc) limit(x []int16) {
	for len(x) > 0 && p.guard > 0 {
		k := min(len(x), plcGuardBlock, p.guard)
		var ms float64
		for _, v := range x[:k] {
			ms += float64(v) * float64(v)
		}
		ms /= float64(k)
		target := 1.0
		if ms > p.refMS {
			target = math.Sqrt(p.refMS / ms)
		}
		p.guard -= k
		if p.guard == 0 {
			target = 1
		}
		g0 := p.gain
		for i := range k {
			g := g0 + (target-g0)*float64(i+1)/float64(k)
			x[i] = int16(float64(x[i]) * g)
		}
		p.gain = target
		x = x[k:]
	}
}

// track updates the slow level with audio that is neither concealment nor
// under the limiter.
func (p *plc) track(s []int16) {
	if len(s) == 0 {
		return
	}
	var ms float64
	for _, v := range s {
		ms += float64(v) * float64(v)
	}
	ms /= float64(len(s))
	a := float64(len(s)) / (float64(len(s)) + plcRate/2)
	p.level += a * (ms - p.level)
}

// preLossMS is the mean square of the last 20 ms before the loss.
func (p *plc) preLossMS() float64 {
	n := min(p.histLen, plcCorrLen)
	if n == 0 {
		return 0
	}
	var ms float64
	for _, v := range p.hist[plcHistory-n:] {
		ms += float64(v) * float64(v)
	}
	return ms / float64(n)
}

func (p *plc) remember(s []int16) {
	if len(s) >= plcHistory {
		copy(p.hist[:], s[len(s)-plcHistory:])
		p.histLen = plcHistory
		return
	}
	copy(p.hist[:], p.hist[len(s):])
	copy(p.hist[plcHistory-len(s):], s)
	p.histLen = min(plcHistory, p.histLen+len(s))
}

// WriteGap conceals up to 60 ms, fills up to 200 ms with comfort silence and
// passes anything longer on as a real gap.
func (p *plc) WriteGap(n int) error {
	if n == 0 {
		p.lost = 0
		return p.next.WriteGap(0)
	}
	if p.histLen < plcMinPitch*2 {
		// Nothing to repeat yet.
		return p.next.WriteGap(n)
	}
	if p.lost == 0 {
		p.pitch = p.findPitch()
		p.pos = 0
	}
	fill := min(n, max(0, plcFillMax-p.lost))
	for fill > 0 {
		k := min(fill, len(p.buf))
		for i := range k {
			p.buf[i] = p.synth(p.lost + i)
		}
		p.lost += k
		fill -= k
		n -= k
		if err := p.next.WriteSamples(p.buf[:k]); err != nil {
			return err
		}
	}
	if n > 0 {
		return p.next.WriteGap(n)
	}
	return nil
}

// synth returns the concealment sample at offset t from the loss start.
func (p *plc) synth(t int) int16 {
	if t >= plcFadeEnd || p.pitch == 0 {
		return 0
	}
	x := int32(p.hist[plcHistory-p.pitch+t%p.pitch])
	if t < plcHoldLen {
		return int16(x)
	}
	g := int32(plcFadeEnd-t) * 1024 / (plcFadeEnd - plcHoldLen)
	return int16(x * g / 1024)
}

// findPitch returns the period in [plcMinPitch, plcMaxPitch] with the best
// normalised correlation between the last plcCorrLen samples and the same
// window one period earlier (G.711 Appendix I §I.2.2).
func (p *plc) findPitch() int {
	avail := p.histLen
	corrLen := min(plcCorrLen, avail-plcMinPitch)
	maxP := min(plcMaxPitch, avail-corrLen)
	best, bestScore := plcMinPitch, -2.0
	end := plcHistory
	for P := plcMinPitch; P <= maxP; P++ {
		var xy, yy float64
		for i := end - corrLen; i < end; i++ {
			x, y := float64(p.hist[i]), float64(p.hist[i-P])
			xy += x * y
			yy += y * y
		}
		score := 0.0
		if yy > 0 {
			score = xy / sqrt(yy)
		}
		if score > bestScore {
			best, bestScore = P, score
		}
	}
	return best
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
