package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/callbridge/callbridge/record"
	"github.com/callbridge/callbridge/store"
)

// AdminHandler serves the operator API over call records and webhook
// deliveries (docs/WEBHOOKS.md, "Operator API"), on these routes:
//
//	GET  /v1/admin/records                      call records, newest first
//	GET  /v1/admin/records/{call_id}            one record with its events and attempts
//	GET  /v1/admin/events                       outbox entries (?state=dead, ?call_id=)
//	GET  /v1/admin/events/{event_id}            one event with its attempts
//	POST /v1/admin/events/{event_id}/redeliver  send one event again
//	POST /v1/admin/events/redeliver-dead        send every dead event again
//	GET  /v1/admin/endpoints                    endpoints disabled by a 410
//
// It does no authentication: mount it behind the auth.admin_token check.
func MountAdmin(mux *http.ServeMux, guard func(http.Handler) http.Handler, ob *Outbox, log *slog.Logger) {
	a := &admin{ob: ob, st: ob.Store(), log: log}
	for route, h := range map[string]http.HandlerFunc{
		"GET /v1/admin/records":                a.listRecords,
		"GET /v1/admin/records/{id}":           a.getRecord,
		"GET /v1/admin/events":                 a.listEvents,
		"GET /v1/admin/events/{id}":            a.getEvent,
		"POST /v1/admin/events/{id}/redeliver": a.redeliver,
		"POST /v1/admin/events/redeliver-dead": a.redeliverDead,
		"GET /v1/admin/endpoints":              a.endpoints,
	} {
		mux.Handle(route, guard(h))
	}
}

type admin struct {
	ob  *Outbox
	st  store.Store
	log *slog.Logger
}

// recordView is a call record as the API shows it: the record's own JSON
// plus the store's bookkeeping.
type recordView struct {
	Record    json.RawMessage `json:"record"`
	Final     bool            `json:"final"`
	UpdatedAt record.Time     `json:"updated_at"`
	Events    []eventView     `json:"events,omitempty"`
}

type eventView struct {
	ID            string          `json:"id"`
	CallID        string          `json:"call_id"`
	Type          string          `json:"type"`
	Seq           int64           `json:"seq"`
	CreatedAt     record.Time     `json:"created_at"`
	URL           string          `json:"url"`
	State         string          `json:"state"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt record.Time     `json:"next_attempt_at"`
	LastStatus    int             `json:"last_status"`
	LastError     string          `json:"last_error"`
	DeliveredAt   record.Time     `json:"delivered_at"`
	Event         json.RawMessage `json:"event,omitempty"`
	History       []attemptView   `json:"history,omitempty"`
}

type attemptView struct {
	N          int         `json:"n"`
	At         record.Time `json:"at"`
	StatusCode int         `json:"status_code"`
	Error      string      `json:"error"`
	DurationMS int64       `json:"duration_ms"`
}

func recordOf(c store.Call) recordView {
	rec := json.RawMessage(c.Record)
	if !json.Valid(rec) {
		rec = json.RawMessage("null")
	}
	return recordView{Record: rec, Final: c.Final, UpdatedAt: record.Time{T: c.UpdatedAt}}
}

func eventOf(e store.Event) eventView {
	v := eventView{
		ID: e.ID, CallID: e.CallID, Type: e.Type, Seq: e.Seq, CreatedAt: record.Time{T: e.CreatedAt},
		URL: RedactURL(e.URL), State: e.State, Attempts: e.Attempts, LastStatus: e.LastStatus, LastError: e.LastError,
		DeliveredAt: record.Time{T: e.DeliveredAt},
	}
	if e.State == store.StatePending {
		v.NextAttemptAt = record.Time{T: e.NextAttemptAt}
	}
	if json.Valid(e.Payload) {
		v.Event = e.Payload
	}
	return v
}

func (a *admin) withHistory(r *http.Request, e store.Event) (eventView, error) {
	v := eventOf(e)
	as, err := a.st.Attempts(r.Context(), e.ID)
	if err != nil {
		return v, err
	}
	v.History = make([]attemptView, 0, len(as))
	for _, at := range as {
		v.History = append(v.History, attemptView{N: at.N, At: record.Time{T: at.At}, StatusCode: at.StatusCode, Error: at.Error, DurationMS: at.Duration.Milliseconds()})
	}
	return v, nil
}

func (a *admin) listRecords(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.CallFilter{Seat: q.Get("seat"), Status: q.Get("status"), Cursor: q.Get("cursor")}
	var err error
	if f.Since, err = queryTime(q.Get("since")); err != nil {
		a.fail(w, http.StatusBadRequest, "bad_request", "since: "+err.Error())
		return
	}
	if f.Until, err = queryTime(q.Get("until")); err != nil {
		a.fail(w, http.StatusBadRequest, "bad_request", "until: "+err.Error())
		return
	}
	if f.Limit, err = queryLimit(q.Get("limit")); err != nil {
		a.fail(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	calls, next, err := a.st.ListCalls(r.Context(), f)
	if err != nil {
		a.storeErr(w, err)
		return
	}
	out := make([]recordView, 0, len(calls))
	for _, c := range calls {
		out = append(out, recordOf(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "next_cursor": next})
}

func (a *admin) getRecord(w http.ResponseWriter, r *http.Request) {
	c, err := a.st.GetCall(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeErr(w, err)
		return
	}
	v := recordOf(c)
	v.Events = []eventView{}
	cursor := ""
	for {
		evs, next, err := a.st.ListEvents(r.Context(), store.EventFilter{CallID: c.ID, Limit: store.MaxLimit, Cursor: cursor})
		if err != nil {
			a.storeErr(w, err)
			return
		}
		for _, e := range evs {
			ev, err := a.withHistory(r, e)
			if err != nil {
				a.storeErr(w, err)
				return
			}
			v.Events = append(v.Events, ev)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *admin) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.EventFilter{CallID: q.Get("call_id"), State: q.Get("state"), Cursor: q.Get("cursor")}
	switch f.State {
	case "", store.StatePending, store.StateDelivered, store.StateDead:
	default:
		a.fail(w, http.StatusBadRequest, "bad_request", "state must be pending, delivered or dead")
		return
	}
	var err error
	if f.Limit, err = queryLimit(q.Get("limit")); err != nil {
		a.fail(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	evs, next, err := a.st.ListEvents(r.Context(), f)
	if err != nil {
		a.storeErr(w, err)
		return
	}
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, eventOf(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_cursor": next})
}

func (a *admin) getEvent(w http.ResponseWriter, r *http.Request) {
	e, err := a.st.GetEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeErr(w, err)
		return
	}
	v, err := a.withHistory(r, e)
	if err != nil {
		a.storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *admin) redeliver(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.ob.Redeliver(r.Context(), id); err != nil {
		a.storeErr(w, err)
		return
	}
	a.log.Info("operator requeued a webhook event", "event_id", id)
	e, err := a.st.GetEvent(r.Context(), id)
	if err != nil {
		a.storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, eventOf(e))
}

func (a *admin) redeliverDead(w http.ResponseWriter, r *http.Request) {
	n, err := a.ob.RedeliverDead(r.Context())
	if err != nil {
		a.storeErr(w, err)
		return
	}
	a.log.Info("operator requeued all dead webhook events", "count", n)
	writeJSON(w, http.StatusAccepted, map[string]any{"requeued": n})
}

func (a *admin) endpoints(w http.ResponseWriter, r *http.Request) {
	eps, err := a.st.DisabledEndpoints(r.Context())
	if err != nil {
		a.storeErr(w, err)
		return
	}
	type epView struct {
		URL        string      `json:"url"`
		DisabledAt record.Time `json:"disabled_at"`
		Reason     string      `json:"reason"`
	}
	out := make([]epView, 0, len(eps))
	for _, e := range eps {
		out = append(out, epView{RedactURL(e.URL), record.Time{T: e.DisabledAt}, e.Reason})
	}
	writeJSON(w, http.StatusOK, map[string]any{"disabled": out})
}

func (a *admin) storeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrNotFound):
		a.fail(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, store.ErrBadCursor):
		a.fail(w, http.StatusBadRequest, "bad_request", err.Error())
	default:
		a.log.Error("admin API store error", "error", err)
		a.fail(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

func (a *admin) fail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func queryTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want RFC 3339, e.g. 2026-11-26T17:00:00Z")
	}
	return t, nil
}

func queryLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > store.MaxLimit {
		return 0, fmt.Errorf("limit must be 1 to %d", store.MaxLimit)
	}
	return n, nil
}
