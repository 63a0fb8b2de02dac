package record

import "strconv"

// Q.850 cause values used by the bridge itself (ITU-T Q.850 §2.2.7).
const (
	Q850Unallocated      = 1
	Q850NormalClearing   = 16
	Q850UserBusy         = 17
	Q850NoUserResponding = 18
	Q850NoAnswer         = 19
	Q850CallRejected     = 21
	Q850NetworkOutOfOrdr = 38
	Q850TemporaryFailure = 41
	Q850RecoveryOnTimer  = 102
	Q850Interworking     = 127
)

// Who ended a call: Cause.By.
const (
	ByAgent  = "agent"
	ByRemote = "remote"
	ByBridge = "bridge"
)

// Cause says why a call ended: who hung up, the SIP status that ended it
// (0 for BYE), the Q.850 cause and human text. It is call_state's cause
// and the webhook's hangup.
type Cause struct {
	By      string `json:"by"`
	SIPCode int    `json:"sip_code"`
	Q850    int    `json:"q850"`
	Reason  string `json:"reason"`
}

// sipToQ850 is the RFC 3398 §8.2.6.1 default mapping of SIP final responses
// to Q.850 causes.
var sipToQ850 = map[int]int{
	400: 41, 401: 21, 402: 21, 403: 21, 404: 1, 405: 63, 406: 79, 407: 21,
	408: 102, 410: 22, 413: 127, 414: 127, 415: 79, 416: 127, 420: 127,
	421: 127, 423: 127, 480: 18, 481: 41, 482: 25, 483: 25, 484: 28, 485: 1,
	486: 17, 487: 127, 488: 127, 500: 41, 501: 79, 502: 38, 503: 41, 504: 102,
	505: 127, 513: 127, 600: 17, 603: 21, 604: 1, 606: 58,
}

// Q850FromSIP maps a SIP final status to a Q.850 cause per RFC 3398 §8.2.6.1.
// RFC 3398 gives no class default, so codes without an entry map to 127
// (interworking, unspecified), and 2xx to 16 (normal clearing).
func Q850FromSIP(code int) int {
	if q, ok := sipToQ850[code]; ok {
		return q
	}
	switch {
	case code >= 200 && code < 300:
		return Q850NormalClearing
	default:
		return Q850Interworking
	}
}

// q850Text is the ITU-T Q.850 name of the causes the bridge reports.
var q850Text = map[int]string{
	1: "Unallocated number", 16: "Normal call clearing", 17: "User busy",
	18: "No user responding", 19: "No answer from user", 21: "Call rejected",
	22: "Number changed", 25: "Exchange routing error", 28: "Invalid number format",
	31: "Normal, unspecified", 34: "No circuit/channel available", 38: "Network out of order",
	41: "Temporary failure", 58: "Bearer capability not presently available",
	63: "Service or option not available", 79: "Service or option not implemented",
	102: "Recovery on timer expiry", 127: "Interworking, unspecified",
}

// Q850Text returns the Q.850 name of a cause, or "Cause N".
func Q850Text(q int) string {
	if s, ok := q850Text[q]; ok {
		return s
	}
	return "Cause " + strconv.Itoa(q)
}
