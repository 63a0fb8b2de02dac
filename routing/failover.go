package routing

import (
	"fmt"
	"time"
)

// Verdict is what an attempt's outcome means for the call.
type Verdict int

const (
	// Answered: the call is up on this trunk.
	Answered Verdict = iota
	// Failover: the trunk could not take the call; try the next one.
	Failover
	// Final: the destination's answer, which another trunk would repeat
	// (busy, declined, not found): the call ends here.
	Final
)

func (v Verdict) String() string {
	switch v {
	case Answered:
		return "answered"
	case Failover:
		return "failover"
	default:
		return "final"
	}
}

// Outcome is how one INVITE attempt ended.
type Outcome struct {
	// Status is the final SIP status, 0 when none came (timeout, transport
	// error).
	Status int
	// RetryAfter is the Retry-After of a 503 (RFC 3261 §21.5.4), 0 if none.
	RetryAfter time.Duration
	// Cancelled: the caller hung up or the ring timeout ran out; never a
	// reason to try another trunk.
	Cancelled bool
}

// Classify says whether a call moves on to its next trunk after an
// attempt (docs/TRUNKS.md has the table):
//
//	2xx                      answered
//	no response (Timer B)    failover  trunk unreachable
//	408 Request Timeout      failover  the trunk's own timeout downstream
//	500, 502, 504, other 5xx failover  server or upstream failure
//	503 Service Unavailable  failover  with Retry-After: the trunk is also held off that long
//	404, 480, 486, 600, 603  final     the destination's answer
//	other 3xx, 4xx, 6xx      final     a request another trunk would refuse alike
//	cancelled by the caller  final
//
// The second result says why, for the call record.
func Classify(o Outcome) (Verdict, string) {
	switch {
	case o.Cancelled:
		return Final, "cancelled"
	case o.Status == 0:
		return Failover, "no_response"
	case o.Status >= 200 && o.Status < 300:
		return Answered, "answered"
	case o.Status == 408:
		return Failover, "408"
	case o.Status == 503 && o.RetryAfter > 0:
		return Failover, fmt.Sprintf("503 retry-after %s", o.RetryAfter)
	case o.Status >= 500 && o.Status < 600:
		return Failover, fmt.Sprint(o.Status)
	default:
		return Final, fmt.Sprint(o.Status)
	}
}

// TrunkFault reports whether an outcome counts against the trunk (its
// circuit breaker): only failovers do. A busy callee is no fault of the
// trunk.
func TrunkFault(o Outcome) bool {
	v, _ := Classify(o)
	return v == Failover
}
