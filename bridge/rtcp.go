package bridge

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// DefaultRTCPInterval is the SIP leg's RTCP report interval: RFC 3550
// §6.2's minimum of 5 s, randomised by ±50 % per report (§6.3.1).
const DefaultRTCPInterval = 5 * time.Second

// ntpEpochOffset is 1900-01-01 to 1970-01-01 in seconds (RFC 3550 §4).
const ntpEpochOffset = 2208988800

func toNTP(t time.Time) uint64 {
	s := uint64(t.Unix()) + ntpEpochOffset
	f := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return s<<32 | f
}

// ntpMiddle is the middle 32 bits of an NTP timestamp (RFC 3550 §6.4.1
// LSR), in 1/65536 s.
func ntpMiddle(t time.Time) uint32 { return uint32(toNTP(t) >> 16) }

// rtcpState is what the SIP leg's RTCP knows about both directions: the
// trunk's stream as we receive it (to report on it, RFC 3550 §6.4.1, A.3,
// A.8) and the trunk's reports about ours.
type rtcpState struct {
	mu sync.Mutex
	// Our stream, as we send it (guarded by mu):
	ssrc          uint32
	sentPackets   uint32
	sentOctets    uint32
	lastSeq       uint16
	lastTS        uint32
	lastTSAt      time.Time
	sentSinceLast bool
	// The trunk's stream, as we receive it (guarded by mu):
	rxStarted     bool
	rxSSRC        uint32
	baseSeq       uint32
	maxSeq        uint16
	cycles        uint32
	received      uint32
	expectedPrior uint32
	receivedPrior uint32
	transit       int64
	haveTransit   bool
	jitter        float64 // timestamp units
	rxEpoch       time.Time
	lastSR        uint32    // middle 32 bits of the trunk's last SR's NTP time
	lastSRAt      time.Time // when it arrived
	// The trunk's reports about our stream (guarded by mu):
	far        TrunkRTCP
	reportsOut uint64
}

// TrunkRTCP is what the trunk's RTCP says about the bridge's RTP toward
// it: the proof (or its absence) that the far end hears the agent.
type TrunkRTCP struct {
	// Packets counts RTCP compound packets received from the trunk.
	Packets uint64 `json:"packets"`
	// ReportsSent counts the SR/RR the bridge sent to the trunk.
	ReportsSent uint64    `json:"reports_sent"`
	LastAt      time.Time `json:"last_at,omitempty"` // the last RTCP from the trunk
	// ReportAt is when the trunk last reported on the bridge's stream;
	// HasReport is false while it never did (a trunk that sends RTCP
	// without a report block for us receives none of our RTP).
	ReportAt  time.Time `json:"report_at,omitempty"`
	HasReport bool      `json:"has_report"`
	// Receiving: the latest report (or its absence) shows the trunk
	// receives the bridge's current RTP: a block for our SSRC whose
	// highest sequence number is within a second of what we sent then.
	Receiving    bool     `json:"receiving"`
	FractionLost float64  `json:"fraction_lost_pct"` // since the trunk's previous report
	TotalLost    int64    `json:"total_lost"`
	JitterMs     float64  `json:"jitter_ms"`
	RTTMs        *float64 `json:"rtt_ms,omitempty"` // from LSR/DLSR (RFC 3550 §6.4.1)
	// Lag is how many of our packets the trunk's highest received
	// sequence number trailed what we had sent when the report came.
	Lag int `json:"lag_packets"`
}

// sent records one RTP packet the bridge sends to the trunk.
func (r *rtcpState) sent(h *rtp.Header, payload int, now time.Time) {
	r.mu.Lock()
	r.ssrc = h.SSRC
	r.sentPackets++
	r.sentOctets += uint32(payload)
	r.lastSeq, r.lastTS, r.lastTSAt = h.SequenceNumber, h.Timestamp, now
	r.sentSinceLast = true
	r.mu.Unlock()
}

// received records one RTP packet from the trunk (RFC 3550 A.1, A.8);
// clockRate is 8000 for every payload the SIP leg takes.
func (r *rtcpState) recordReceived(h *rtp.Header, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.rxStarted || h.SSRC != r.rxSSRC {
		r.rxStarted, r.rxSSRC = true, h.SSRC
		r.baseSeq, r.maxSeq, r.cycles, r.received = uint32(h.SequenceNumber), h.SequenceNumber, 0, 0
		r.expectedPrior, r.receivedPrior, r.haveTransit, r.jitter = 0, 0, false, 0
		r.rxEpoch = now
	}
	r.received++
	if d := h.SequenceNumber - r.maxSeq; d != 0 && d < 0x8000 {
		if h.SequenceNumber < r.maxSeq {
			r.cycles += 1 << 16
		}
		r.maxSeq = h.SequenceNumber
	}
	arrival := int64(now.Sub(r.rxEpoch)) * 8000 / int64(time.Second)
	transit := arrival - int64(h.Timestamp)
	if r.haveTransit {
		r.jitter += (math.Abs(float64(transit-r.transit)) - r.jitter) / 16
	}
	r.transit, r.haveTransit = transit, true
}

// block is our reception report on the trunk's stream (RFC 3550 §6.4.1,
// A.3), and resets the interval counts.
func (r *rtcpState) blockLocked(now time.Time) []rtcp.ReceptionReport {
	if !r.rxStarted {
		return nil
	}
	ext := r.cycles + uint32(r.maxSeq)
	expected := ext - r.baseSeq + 1
	lost := int64(expected) - int64(r.received)
	expInt := expected - r.expectedPrior
	recvInt := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	var fraction uint8
	if lostInt := int64(expInt) - int64(recvInt); expInt > 0 && lostInt > 0 {
		fraction = uint8(min(255, lostInt<<8/int64(expInt)))
	}
	lost = max(-(1 << 23), min(1<<23-1, lost))
	var dlsr uint32
	if r.lastSR != 0 {
		dlsr = uint32(now.Sub(r.lastSRAt) * 65536 / time.Second)
	}
	return []rtcp.ReceptionReport{{
		SSRC: r.rxSSRC, FractionLost: fraction, TotalLost: uint32(lost) & 0xffffff,
		LastSequenceNumber: ext, Jitter: uint32(r.jitter),
		LastSenderReport: r.lastSR, Delay: dlsr,
	}}
}

// report builds our compound RTCP packet (RFC 3550 §6.1): an SR when we
// sent RTP since the last report, else an RR, then SDES CNAME.
func (r *rtcpState) report(now time.Time, cname string, fallbackSSRC uint32) []rtcp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	ssrc := r.ssrc
	if ssrc == 0 {
		ssrc = fallbackSSRC
	}
	blocks := r.blockLocked(now)
	var first rtcp.Packet
	if r.sentSinceLast {
		rtpTS := r.lastTS + uint32(now.Sub(r.lastTSAt)*8000/time.Second)
		first = &rtcp.SenderReport{SSRC: ssrc, NTPTime: toNTP(now), RTPTime: rtpTS,
			PacketCount: r.sentPackets, OctetCount: r.sentOctets, Reports: blocks}
	} else {
		first = &rtcp.ReceiverReport{SSRC: ssrc, Reports: blocks}
	}
	r.sentSinceLast = false
	r.reportsOut++
	r.far.ReportsSent = r.reportsOut
	return []rtcp.Packet{first, rtcp.NewCNAMESourceDescription(ssrc, cname)}
}

// takeRTCP reads the trunk's compound RTCP: its SR (for our LSR/DLSR)
// and its report on our stream.
func (r *rtcpState) takeRTCP(pkts []rtcp.Packet, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.far.Packets++
	r.far.LastAt = now
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch x := p.(type) {
		case *rtcp.SenderReport:
			r.lastSR, r.lastSRAt = uint32(x.NTPTime>>16), now
			reports = x.Reports
		case *rtcp.ReceiverReport:
			reports = x.Reports
		default:
			continue
		}
		found := false
		for _, rr := range reports {
			if rr.SSRC != r.ssrc || r.ssrc == 0 {
				continue
			}
			found = true
			r.far.HasReport, r.far.ReportAt = true, now
			r.far.FractionLost = float64(rr.FractionLost) * 100 / 256
			lost := int64(rr.TotalLost & 0xffffff)
			if lost&0x800000 != 0 {
				lost -= 1 << 24
			}
			r.far.TotalLost = lost
			r.far.JitterMs = float64(rr.Jitter) / 8
			lag := int(int16(r.lastSeq - uint16(rr.LastSequenceNumber)))
			r.far.Lag = lag
			r.far.Receiving = lag >= 0 && lag <= 50
			if rr.LastSenderReport != 0 {
				// RFC 3550 §6.4.1: RTT = A - LSR - DLSR, in 1/65536 s.
				rtt := int64(ntpMiddle(now)) - int64(rr.LastSenderReport) - int64(rr.Delay)
				if rtt >= 0 && rtt < 65536*10 {
					ms := math.Round(float64(rtt)*1000/65536*10) / 10
					r.far.RTTMs = &ms
				}
			}
		}
		if !found && r.ssrc != 0 && r.sentPackets > 0 {
			// A report that leaves us out: the trunk hears none of our RTP.
			r.far.Receiving, r.far.ReportAt = false, now
		}
	}
}

func (r *rtcpState) snapshot() TrunkRTCP {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.far
}

// jitteredInterval is d randomised to [0.5 d, 1.5 d) (RFC 3550 §6.3.1).
func jitteredInterval(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}
