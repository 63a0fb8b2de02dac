// Package provision is the provisioning API: seats, their DIDs and
// settings, trunks, the route table and the audit log, as JSON over HTTP
// under /v1/admin/ (docs/PROVISIONING.md; the OpenAPI description is
// served at /v1/admin/openapi.json). Writes go through the directory,
// which stores them with an audit entry and spreads them to every node.
//
// SIP passwords are write-only: requests may set them, responses only say
// whether one is set.
package provision

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/directory"
	"github.com/callbridge/callbridge/routing"
	"github.com/callbridge/callbridge/store"
)

// OpenAPIPath serves the OpenAPI 3.1 description of this API.
const OpenAPIPath = "/v1/admin/openapi.json"

//go:embed openapi.json
var openAPI []byte

// maxBody bounds a request body.
const maxBody = 64 << 10

// ActorHeader names the change's author in the audit log ("admin:NAME");
// without it the actor is "admin".
const ActorHeader = "X-Actor"

// Handler serves the provisioning API. authorize says whether a request
// carries the admin token; a request it refuses gets 401.
func Handler(dir *directory.Directory, st store.Store, authorize func(*http.Request) bool, log *slog.Logger) http.Handler {
	a := &api{dir: dir, st: st, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+OpenAPIPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.HandleFunc("GET /v1/admin/seats", a.listSeats)
	mux.HandleFunc("POST /v1/admin/seats", a.createSeat)
	mux.HandleFunc("GET /v1/admin/seats/{id}", a.getSeat)
	mux.HandleFunc("PATCH /v1/admin/seats/{id}", a.patchSeat)
	mux.HandleFunc("DELETE /v1/admin/seats/{id}", a.deleteSeat)
	mux.HandleFunc("POST /v1/admin/seats/{id}/disable", a.setDisabled(true))
	mux.HandleFunc("POST /v1/admin/seats/{id}/enable", a.setDisabled(false))
	mux.HandleFunc("PUT /v1/admin/seats/{id}/dids/{number}", a.assignDID)
	mux.HandleFunc("DELETE /v1/admin/seats/{id}/dids/{number}", a.releaseDID)
	mux.HandleFunc("GET /v1/admin/trunks", a.listTrunks)
	mux.HandleFunc("POST /v1/admin/trunks", a.createTrunk)
	mux.HandleFunc("GET /v1/admin/trunks/{name}", a.getTrunk)
	mux.HandleFunc("PUT /v1/admin/trunks/{name}", a.putTrunk)
	mux.HandleFunc("DELETE /v1/admin/trunks/{name}", a.deleteTrunk)
	mux.HandleFunc("GET /v1/admin/routes", a.getRoutes)
	mux.HandleFunc("PUT /v1/admin/routes", a.putRoutes)
	mux.HandleFunc("GET /v1/admin/audit", a.audit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorize(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="callbridge"`)
			fail(w, http.StatusUnauthorized, "unauthorized", "", "admin token required")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Mount registers every route on mux behind guard (auth.RequireAdmin).
func Mount(mux *http.ServeMux, guard func(http.Handler) http.Handler, dir *directory.Directory, st store.Store, log *slog.Logger) {
	h := guard(Handler(dir, st, func(*http.Request) bool { return true }, log))
	for _, route := range Routes() {
		mux.Handle(route, h)
	}
}

// Routes lists the method and pattern of every route, for mounting the
// handler on a shared mux.
func Routes() []string {
	return []string{
		"GET " + OpenAPIPath,
		"GET /v1/admin/seats", "POST /v1/admin/seats", "GET /v1/admin/seats/{id}", "PATCH /v1/admin/seats/{id}",
		"DELETE /v1/admin/seats/{id}", "POST /v1/admin/seats/{id}/disable", "POST /v1/admin/seats/{id}/enable",
		"PUT /v1/admin/seats/{id}/dids/{number}", "DELETE /v1/admin/seats/{id}/dids/{number}",
		"GET /v1/admin/trunks", "POST /v1/admin/trunks", "GET /v1/admin/trunks/{name}", "PUT /v1/admin/trunks/{name}",
		"DELETE /v1/admin/trunks/{name}", "GET /v1/admin/routes", "PUT /v1/admin/routes", "GET /v1/admin/audit",
	}
}

type api struct {
	dir *directory.Directory
	st  store.Store
	log *slog.Logger
}

// Problem is one validation error: the request field and what is wrong.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// errorBody is every error response: {"error": {...}}.
type errorBody struct {
	Code     string    `json:"code"`
	Field    string    `json:"field,omitempty"`
	Message  string    `json:"message"`
	Problems []Problem `json:"problems,omitempty"`
}

func fail(w http.ResponseWriter, status int, code, field, msg string) {
	writeJSON(w, status, map[string]any{"error": errorBody{Code: code, Field: field, Message: msg}})
}

func invalid(w http.ResponseWriter, ps []Problem) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": errorBody{
		Code: "invalid", Field: ps[0].Field, Message: ps[0].Field + ": " + ps[0].Message, Problems: ps,
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads a JSON body into v; unknown fields and trailing data are
// errors that name what is wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the JSON object")
	}
	if err == nil {
		return true
	}
	var field string
	var te *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		field = te.Field
		err = fmt.Errorf("want %s, got JSON %s", te.Type, te.Value)
	case errors.As(err, &mbe):
		fail(w, http.StatusRequestEntityTooLarge, "too_large", "", fmt.Sprintf("body over %d bytes", maxBody))
		return false
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		err = errors.New("unknown field")
	}
	fail(w, http.StatusBadRequest, "bad_request", field, strings.TrimPrefix(field+": "+err.Error(), ": "))
	return false
}

// actor is the audit log's "who": the admin token's holder, named by the
// X-Actor header when given.
func actor(r *http.Request) string {
	name := strings.TrimSpace(r.Header.Get(ActorHeader))
	if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return "admin"
	}
	return "admin:" + name
}

// writeErr maps the directory's and the store's errors to responses.
func (a *api) writeErr(w http.ResponseWriter, err error) {
	var rp routing.RouteProblem
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, "not_found", "", err.Error())
	case errors.Is(err, directory.ErrExists):
		fail(w, http.StatusConflict, "exists", "", err.Error())
	case errors.Is(err, store.ErrConflict):
		fail(w, http.StatusConflict, "did_taken", "", err.Error())
	case errors.Is(err, directory.ErrManagedByConfig):
		fail(w, http.StatusConflict, "managed_by_config", "", err.Error()+"; change the configuration file instead")
	case errors.Is(err, directory.ErrInUse):
		fail(w, http.StatusConflict, "in_use", "", err.Error())
	case errors.As(err, &rp):
		invalid(w, []Problem{{Field: rp.Field, Message: rp.Message}})
	case errors.Is(err, store.ErrBadCursor):
		fail(w, http.StatusBadRequest, "bad_request", "cursor", err.Error())
	default:
		a.log.Error("provisioning API", "error", err)
		fail(w, http.StatusInternalServerError, "internal", "", "internal error")
	}
}

// --- seats ---

// SeatView is a seat as the API returns it: no password, only whether
// one is set.
type SeatView struct {
	ID               string        `json:"id"`
	Disabled         bool          `json:"disabled"`
	Source           string        `json:"source"`
	ManagedByConfig  bool          `json:"managed_by_config"`
	SIPUsername      string        `json:"sip_username"`
	SIPPasswordSet   bool          `json:"sip_password_set"`
	Country          string        `json:"country"`
	AllowedCountries []string      `json:"allowed_countries"`
	MaxCalls         int           `json:"max_calls"`
	CallsPerMinute   int           `json:"calls_per_minute"`
	WebhookURL       string        `json:"webhook_url"`
	InboundFallback  string        `json:"inbound_fallback"`
	InboundForwardTo string        `json:"inbound_forward_to"`
	InboundHunt      []string      `json:"inbound_hunt"`
	DIDs             []routing.DID `json:"dids"`
	CreatedAt        time.Time     `json:"created_at"`
	UpdatedAt        time.Time     `json:"updated_at"`
}

func (a *api) view(s *directory.Seat) SeatView {
	v := SeatView{
		ID: s.ID, Disabled: s.Disabled, Source: s.Source, ManagedByConfig: a.dir.SeatManaged(s),
		SIPUsername: s.SIPUsername, SIPPasswordSet: s.SIPPassword != "", Country: s.Country,
		AllowedCountries: s.AllowedCountries, MaxCalls: s.MaxCalls, CallsPerMinute: s.CallsPerMinute,
		WebhookURL: s.WebhookURL, InboundFallback: s.InboundFallback, InboundForwardTo: s.InboundForwardTo,
		InboundHunt: s.InboundHunt, DIDs: s.DIDs,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
	if v.AllowedCountries == nil {
		v.AllowedCountries = []string{}
	}
	if v.DIDs == nil {
		v.DIDs = []routing.DID{}
	}
	return v
}

// SeatRequest creates a seat (POST) or changes one (PATCH: only the
// fields present change).
type SeatRequest struct {
	ID               *string   `json:"id"`
	SIPUsername      *string   `json:"sip_username"`
	SIPPassword      *string   `json:"sip_password"`
	Country          *string   `json:"country"`
	AllowedCountries *[]string `json:"allowed_countries"`
	MaxCalls         *int      `json:"max_calls"`
	CallsPerMinute   *int      `json:"calls_per_minute"`
	WebhookURL       *string   `json:"webhook_url"`
	InboundFallback  *string   `json:"inbound_fallback"`
	InboundForwardTo *string   `json:"inbound_forward_to"`
	InboundHunt      *[]string `json:"inbound_hunt"`
	Disabled         *bool     `json:"disabled"`
	// DIDs are assigned at creation, the first as the default.
	DIDs []string `json:"dids"`
}

func (req SeatRequest) apply(s *config.Seat) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&s.SIPUsername, req.SIPUsername)
	if req.SIPPassword != nil {
		s.SIPPassword = *req.SIPPassword
	}
	set(&s.Country, req.Country)
	s.Country = strings.ToUpper(s.Country)
	if req.AllowedCountries != nil {
		s.AllowedCountries = make([]string, len(*req.AllowedCountries))
		for i, c := range *req.AllowedCountries {
			s.AllowedCountries[i] = strings.ToUpper(strings.TrimSpace(c))
		}
	}
	if req.MaxCalls != nil {
		s.MaxCalls = *req.MaxCalls
	}
	if req.CallsPerMinute != nil {
		s.CallsPerMinute = *req.CallsPerMinute
	}
	set(&s.WebhookURL, req.WebhookURL)
	set(&s.InboundFallback, req.InboundFallback)
	set(&s.InboundForwardTo, req.InboundForwardTo)
	if req.InboundHunt != nil {
		s.InboundHunt = append([]string(nil), *req.InboundHunt...)
	}
	if req.Disabled != nil {
		s.Disabled = *req.Disabled
	}
}

func (a *api) listSeats(w http.ResponseWriter, r *http.Request) {
	snap := a.dir.Snapshot()
	ids := make([]string, 0, len(snap.Seats))
	for id := range snap.Seats {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]SeatView, 0, len(ids))
	for _, id := range ids {
		out = append(out, a.view(snap.Seats[id]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"seats": out, "version": snap.Version})
}

func (a *api) seat(w http.ResponseWriter, id string) (*directory.Seat, bool) {
	s, ok := a.dir.Snapshot().Seats[id]
	if !ok {
		fail(w, http.StatusNotFound, "not_found", "", "no seat "+id)
	}
	return s, ok
}

func (a *api) getSeat(w http.ResponseWriter, r *http.Request) {
	if s, ok := a.seat(w, r.PathValue("id")); ok {
		writeJSON(w, http.StatusOK, a.view(s))
	}
}

func (a *api) createSeat(w http.ResponseWriter, r *http.Request) {
	var req SeatRequest
	if !decode(w, r, &req) {
		return
	}
	var s config.Seat
	if req.ID != nil {
		s.ID = strings.TrimSpace(*req.ID)
	}
	req.apply(&s)
	if req.MaxCalls == nil {
		s.MaxCalls = config.DefaultSeatMaxCalls
	}
	if s.Country == "" && len(req.DIDs) > 0 {
		s.Country = routing.Region(req.DIDs[0])
	}
	ps := validateSeat(s, req.MaxCalls != nil)
	ps = append(ps, validateDIDs(req.DIDs)...)
	if len(ps) > 0 {
		invalid(w, ps)
		return
	}
	// DIDs another seat holds fail the request before the seat exists.
	snap := a.dir.Snapshot()
	for i, n := range req.DIDs {
		for _, other := range snap.Seats {
			if slices.ContainsFunc(other.DIDs, func(d routing.DID) bool { return d.Number == n }) {
				fail(w, http.StatusConflict, "did_taken", fmt.Sprintf("dids[%d]", i), fmt.Sprintf("dids[%d]: %s is assigned to seat %s", i, n, other.ID))
				return
			}
		}
	}
	who := actor(r)
	if err := a.dir.PutSeat(r.Context(), who, s, true); err != nil {
		a.writeErr(w, err)
		return
	}
	for i, n := range req.DIDs {
		if err := a.dir.AssignDID(r.Context(), who, s.ID, n, i == 0); err != nil {
			a.writeErr(w, err)
			return
		}
	}
	s2, _ := a.dir.Snapshot().Seats[s.ID]
	w.Header().Set("Location", "/v1/admin/seats/"+s.ID)
	writeJSON(w, http.StatusCreated, a.view(s2))
}

func (a *api) patchSeat(w http.ResponseWriter, r *http.Request) {
	cur, ok := a.seat(w, r.PathValue("id"))
	if !ok {
		return
	}
	var req SeatRequest
	if !decode(w, r, &req) {
		return
	}
	var ps []Problem
	if req.ID != nil && *req.ID != cur.ID {
		ps = append(ps, Problem{"id", "a seat's id cannot change; create a new seat"})
	}
	if req.DIDs != nil {
		ps = append(ps, Problem{"dids", "assign numbers with PUT /v1/admin/seats/{id}/dids/{number}"})
	}
	s := cur.Seat
	s.AllowedCountries = slices.Clone(s.AllowedCountries)
	req.apply(&s)
	ps = append(ps, validateSeat(s, true)...)
	if len(ps) > 0 {
		invalid(w, ps)
		return
	}
	if err := a.dir.PutSeat(r.Context(), actor(r), s, false); err != nil {
		a.writeErr(w, err)
		return
	}
	s2, _ := a.dir.Snapshot().Seats[s.ID]
	writeJSON(w, http.StatusOK, a.view(s2))
}

func (a *api) setDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur, ok := a.seat(w, r.PathValue("id"))
		if !ok {
			return
		}
		s := cur.Seat
		s.Disabled = disabled
		if err := a.dir.PutSeat(r.Context(), actor(r), s, false); err != nil {
			a.writeErr(w, err)
			return
		}
		s2, _ := a.dir.Snapshot().Seats[s.ID]
		writeJSON(w, http.StatusOK, a.view(s2))
	}
}

func (a *api) deleteSeat(w http.ResponseWriter, r *http.Request) {
	if err := a.dir.DeleteSeat(r.Context(), actor(r), r.PathValue("id")); err != nil {
		a.writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DIDRequest is the optional body of PUT .../dids/{number}.
type DIDRequest struct {
	// Default makes the number the seat's default caller id.
	Default bool `json:"default"`
}

func (a *api) assignDID(w http.ResponseWriter, r *http.Request) {
	var req DIDRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	n := r.PathValue("number")
	if ps := validateDIDs([]string{n}); len(ps) > 0 {
		invalid(w, []Problem{{Field: "number", Message: ps[0].Message}})
		return
	}
	if err := a.dir.AssignDID(r.Context(), actor(r), r.PathValue("id"), n, req.Default); err != nil {
		a.writeErr(w, err)
		return
	}
	s, _ := a.dir.Snapshot().Seats[r.PathValue("id")]
	writeJSON(w, http.StatusOK, a.view(s))
}

func (a *api) releaseDID(w http.ResponseWriter, r *http.Request) {
	if err := a.dir.ReleaseDID(r.Context(), actor(r), r.PathValue("id"), r.PathValue("number")); err != nil {
		a.writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- trunks ---

// TrunkRequest is a trunk to create or replace; password is write-only
// and, on PUT, kept when absent.
type TrunkRequest struct {
	config.Trunk
	Password *string `json:"password"`
}

func (a *api) listTrunks(w http.ResponseWriter, r *http.Request) {
	snap := a.dir.Snapshot()
	out := make([]directory.TrunkView, 0, len(snap.Trunks))
	for _, t := range snap.Trunks {
		out = append(out, directory.NewTrunkView(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"trunks": out})
}

func (a *api) getTrunk(w http.ResponseWriter, r *http.Request) {
	t, ok := a.dir.Snapshot().Trunk(r.PathValue("name"))
	if !ok {
		fail(w, http.StatusNotFound, "not_found", "", "no trunk "+r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, directory.NewTrunkView(t))
}

func (a *api) createTrunk(w http.ResponseWriter, r *http.Request) {
	var req TrunkRequest
	if !decode(w, r, &req) {
		return
	}
	a.writeTrunk(w, r, req, true)
}

func (a *api) putTrunk(w http.ResponseWriter, r *http.Request) {
	var req TrunkRequest
	if !decode(w, r, &req) {
		return
	}
	name := r.PathValue("name")
	if req.Name != "" && req.Name != name {
		invalid(w, []Problem{{"name", "differs from the trunk's name in the path"}})
		return
	}
	req.Name = name
	old, exists := a.dir.Snapshot().Trunk(name)
	if req.Password == nil && exists {
		req.Trunk.Password = old.Password
	}
	a.writeTrunk(w, r, req, false)
}

func (a *api) writeTrunk(w http.ResponseWriter, r *http.Request, req TrunkRequest, create bool) {
	t := req.Trunk
	if req.Password != nil {
		t.Password = *req.Password
	}
	if t.Credentials == "" {
		t.Credentials = config.CredentialsSeat
	}
	for i, c := range t.Codecs {
		t.Codecs[i] = strings.ToUpper(strings.TrimSpace(c))
	}
	if ps := config.ValidateTrunk("", t); len(ps) > 0 {
		out := make([]Problem, len(ps))
		for i, p := range ps {
			field, msg, _ := strings.Cut(p.Error(), ": ")
			out[i] = Problem{Field: strings.TrimPrefix(field, "."), Message: msg}
		}
		invalid(w, out)
		return
	}
	if err := a.dir.PutTrunk(r.Context(), actor(r), t, create); err != nil {
		a.writeErr(w, err)
		return
	}
	got, _ := a.dir.Snapshot().Trunk(t.Name)
	status := http.StatusOK
	if create {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/admin/trunks/"+t.Name)
	}
	writeJSON(w, status, directory.NewTrunkView(got))
}

func (a *api) deleteTrunk(w http.ResponseWriter, r *http.Request) {
	if err := a.dir.DeleteTrunk(r.Context(), actor(r), r.PathValue("name")); err != nil {
		a.writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- routes ---

// RoutesBody is the route table, in and out.
type RoutesBody struct {
	Routes          []routing.Route `json:"routes"`
	ManagedByConfig bool            `json:"managed_by_config"`
}

func (a *api) getRoutes(w http.ResponseWriter, r *http.Request) {
	snap := a.dir.Snapshot()
	routes := snap.Routes.Routes()
	if routes == nil {
		routes = []routing.Route{}
	}
	writeJSON(w, http.StatusOK, RoutesBody{Routes: routes, ManagedByConfig: snap.RoutesFromConfig})
}

func (a *api) putRoutes(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Routes []routing.Route `json:"routes"`
	}
	if !decode(w, r, &req) {
		return
	}
	for i := range req.Routes {
		req.Routes[i].Country = strings.ToUpper(req.Routes[i].Country)
	}
	if err := a.dir.ReplaceRoutes(r.Context(), actor(r), req.Routes); err != nil {
		a.writeErr(w, err)
		return
	}
	a.getRoutes(w, r)
}

// --- audit ---

// AuditView is one audit log entry.
type AuditView struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Kind   string          `json:"kind"`
	Key    string          `json:"key"`
	Detail json.RawMessage `json:"detail"`
}

func (a *api) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AuditFilter{Kind: q.Get("kind"), Key: q.Get("key"), Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			fail(w, http.StatusBadRequest, "bad_request", "limit", fmt.Sprintf("limit: want 1 to %d", store.MaxLimit))
			return
		}
		f.Limit = n
	}
	entries, next, err := a.st.Audit(r.Context(), f)
	if err != nil {
		a.writeErr(w, err)
		return
	}
	out := make([]AuditView, 0, len(entries))
	for _, e := range entries {
		d := json.RawMessage(e.Detail)
		if len(d) == 0 || !json.Valid(d) {
			d = json.RawMessage("null")
		}
		out = append(out, AuditView{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Kind: e.Kind, Key: e.Key, Detail: d})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out, "next_cursor": next})
}
