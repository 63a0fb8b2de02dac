package bridge

// ErrStoreFailing refuses new calls while call records cannot be written:
// a call placed then would have no record and no webhook.
var ErrStoreFailing = &Error{"internal",
	"calls are refused for now: the bridge cannot save call records (its store is failing); try again shortly or tell your administrator"}

// healthChecker is what a webhook.Publisher offers when it can tell that
// its store fails (webhook.Outbox.Healthy).
type healthChecker interface{ Healthy() error }

// storeHealthy refuses calls while the event publisher's store fails; the
// detail goes to the log, not to the browser.
func (b *Bridge) storeHealthy() error {
	h, ok := b.events.(healthChecker)
	if !ok {
		return nil
	}
	if err := h.Healthy(); err != nil {
		b.log.Warn("call refused: the store is failing", "error", err)
		return ErrStoreFailing
	}
	return nil
}
