package signaling

// CloseSeat ends every live session of a seat that was disabled or
// deleted (why says which): the widget gets an error with code
// seat_unavailable, its calls end, and its socket is closed with 4401, as
// for a refused token. It returns how many sessions were closed.
func (s *Server) CloseSeat(seat, why string) int {
	n := 0
	for _, sess := range s.Sessions() {
		sess.mu.Lock()
		mine := sess.auth != nil && sess.auth.Seat != nil && sess.auth.Seat.ID == seat
		sess.mu.Unlock()
		if !mine {
			continue
		}
		sess.sendError("", "", CodeSeatUnavailable, "seat "+seat+" was "+why)
		sess.terminateWith(CloseUnauthorized, "seat "+why)
		n++
	}
	return n
}
