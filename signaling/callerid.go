package signaling

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

func (s *Session) handleCallerID(msg Inbound) {
	s.mu.Lock()
	sa := s.auth
	s.mu.Unlock()
	to, choice, err := s.srv.opts.Bridge.PreviewCallerID(sa, msg.To)
	if err != nil {
		s.sendError(msg.RequestID, "", errorCode(err), err.Error())
		return
	}
	s.send(CallerIDReply{Type: TypeCallerID, RequestID: msg.RequestID, To: to, From: choice.Number,
		Why: choice.Why, Country: choice.Country, Area: choice.Area})
}
