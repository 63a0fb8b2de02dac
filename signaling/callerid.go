package signaling

import (
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/routing"
)

// CallerIDReply answers a caller_id request (extension): the caller id a
// call to To would present when the agent picks none, and why
// (routing.WhySameArea, WhySameCountry, WhyDefault), for the widget's
// caller-id picker.
type CallerIDReply struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id,omitempty"`
	// To is the number as normalized (E.164).
	To   string `json:"to"`
	From string `json:"from"`
	Why  string `json:"why"`
	// Country and Area are what matched.
	Country string `json:"country,omitempty"`
	Area    string `json:"area,omitempty"`
}

// CallerIDPreviewer is the optional part of a Bridge that answers
// caller_id (the bridge's local presence).
type CallerIDPreviewer interface {
	PreviewCallerID(sa *bridge.SeatAuth, to string) (string, routing.Choice, error)
}

func (s *Session) handleCallerID(msg Inbound) {
	p, ok := s.srv.opts.Bridge.(CallerIDPreviewer)
	if !ok {
		s.sendError(msg.RequestID, "", CodeBadRequest, "caller_id is not supported by this bridge")
		return
	}
	s.mu.Lock()
	sa := s.auth
	s.mu.Unlock()
	to, choice, err := p.PreviewCallerID(sa, msg.To)
	if err != nil {
		s.sendError(msg.RequestID, "", errorCode(err), err.Error())
		return
	}
	s.send(CallerIDReply{Type: TypeCallerID, RequestID: msg.RequestID, To: to, From: choice.Number,
		Why: choice.Why, Country: choice.Country, Area: choice.Area})
}
