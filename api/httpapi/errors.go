package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// Errors of the HTTP layer itself.
var (
	errBadJSON  = errors.New("bad JSON")
	errNotFound = errors.New("no such endpoint")
	errMethod   = errors.New("method not allowed")
)

// errorBody is every error response: {"error": {"code", "message"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	By      string `json:"by,omitempty"` // a conflict: who acknowledged or resolved it
	// Field names the invalid field of a request body ("rules.night").
	Field string `json:"field,omitempty"`
	// Fields names every invalid field, when the request had several (a roster).
	Fields []api.FieldError `json:"fields,omitempty"`
}

// fieldError is an invalid request that names its field (api.FieldError).
type fieldError interface{ InvalidField() string }

// fieldErrors is an invalid request that names all its invalid fields (api.FieldErrors).
type fieldErrors interface{ InvalidFields() []api.FieldError }

// status maps an error to the HTTP status and code the client sees. It is the only place
// that does.
func status(err error) (int, string) {
	var (
		tooLarge *http.MaxBytesError
		stale    *alerts.StaleError // a conflict of its own: the caller reads again and decides again
	)
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, errBadJSON):
		return http.StatusBadRequest, "bad_json"
	case errors.Is(err, api.ErrInvalid), errors.Is(err, api.ErrInvalid):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, api.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, api.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, api.ErrNotFound), errors.Is(err, errNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, "method_not_allowed"
	case errors.As(err, &stale):
		return http.StatusConflict, "stale"
	case errors.Is(err, api.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, api.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// writeError answers with err. Server-side failures are logged and not explained to the
// client.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	// An object that does not exist and one outside the caller's scope answer alike — 404
	// with the same body — so a refusal tells neither which ids exist nor whose they are
	// (issue 22, item 7). A role that has no business with a route at all still gets 403:
	// that says nothing about ids. Admins see everything, and get the detailed message.
	if p := api.PrincipalFromContext(r.Context()); p != nil && p.Role != api.RoleAdmin && !errors.Is(err, api.ErrInvalid) &&
		(errors.Is(err, api.ErrNotFound) || errors.Is(err, api.ErrOutOfScope)) {
		if rw, ok := w.(*refusalWriter); ok && errors.Is(err, api.ErrOutOfScope) {
			rw.outOfScope = true
		}
		writeJSON(w, http.StatusNotFound, errorBody{Error: errorDetail{Code: "not_found", Message: "not found"}})
		return
	}
	code, name := status(err)
	body := errorBody{Error: errorDetail{Code: name, Message: err.Error()}}
	var ce *alerts.ConflictError
	if errors.As(err, &ce) {
		body.Error.By = ce.By
	}
	var fe fieldError
	if errors.As(err, &fe) {
		body.Error.Field = fe.InvalidField()
	}
	var fes fieldErrors
	if errors.As(err, &fes) {
		body.Error.Fields = fes.InvalidFields()
	}
	if code >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Message = http.StatusText(code)
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vagt"`)
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// maxBody bounds every JSON request body.
const maxBody = 64 << 10

// readJSON decodes one JSON object of at most maxBody bytes into v, refusing unknown fields.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return fmt.Errorf("%w: %v", errBadJSON, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: more than one JSON value", errBadJSON)
	}
	return nil
}
