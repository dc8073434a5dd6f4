package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// alertScope returns the caller's scope, or ErrForbidden for a role without alerts.
func alertScope(r *http.Request) (*api.Principal, api.Scope, error) {
	p := api.PrincipalFromContext(r.Context())
	scope, ok := p.AlertScope()
	if !ok {
		return p, scope, fmt.Errorf("%w: role %s has no access to alerts", api.ErrForbidden, p.Role)
	}
	return p, scope, nil
}

// actorScope is alertScope for the care actions and personal data: staff only.
func actorScope(r *http.Request) (*api.Principal, api.Scope, error) {
	p, scope, err := alertScope(r)
	if err == nil && !p.CanActOnAlerts() {
		err = fmt.Errorf("%w: only care staff act on alerts and see who and where", api.ErrForbidden)
	}
	return p, scope, err
}

func alertID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: alert id %q", api.ErrNotFound, chi.URLParam(r, "id"))
	}
	return id, nil
}

func intParam(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s=%q is not a number", api.ErrInvalid, name, v)
	}
	return n, nil
}

type alertList struct {
	Alerts []alerts.Alert `json:"alerts"`
	// Next is the before= value of the next page; absent on the last page.
	Next int64 `json:"next,omitempty"`
	// LastEventID was the newest event before the list was read: a console that lists and
	// then opens the stream with it as Last-Event-ID misses nothing in between.
	LastEventID int64 `json:"last_event_id"`
}

func (s *server) listAlerts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, scope, err := alertScope(r)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		q := r.URL.Query()
		f := alerts.Filter{State: alerts.State(q.Get("state")), Limit: 50}
		if f.State != "" {
			if err := f.State.Validate(); err != nil {
				writeError(w, r, s.Logger, err)
				return
			}
		}
		if p := q.Get("priority"); p != "" {
			if f.Priority, err = vagt.ParsePriority(p); err != nil {
				writeError(w, r, s.Logger, fmt.Errorf("%w: %w", api.ErrInvalid, err))
				return
			}
		}
		var limit int64
		for _, v := range []struct {
			name string
			dst  *int64
		}{{"district", &f.District}, {"before", &f.Before}, {"limit", &limit}} {
			if *v.dst, err = intParam(r, v.name); err != nil {
				writeError(w, r, s.Logger, err)
				return
			}
		}
		if limit > 0 {
			f.Limit = int(min(limit, 500))
		}
		last, err := s.Alerts.LastEventID(r.Context())
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		list, err := s.Alerts.ListAlerts(r.Context(), scope, f)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		out := alertList{Alerts: list, LastEventID: last}
		if len(list) == f.Limit {
			out.Next = list[len(list)-1].ID
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// getAlert returns who and where: personal data, so the read is audited before it is
// answered (no audit record, no data).
func (s *server) getAlert() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, scope, err := actorScope(r)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		id, err := alertID(r)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		d, err := s.Alerts.AlertDetail(r.Context(), id, scope, s.Clock.Now()) // the store decides the scope
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		detail := ""
		if d.Citizen != nil {
			detail = fmt.Sprintf("citizen/%d", d.Citizen.ID)
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "alert.read",
			Object: fmt.Sprintf("alert/%d", id), Detail: detail}); err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
}

// actOnAlert is every action of care staff on one alert: the actor and their scope, the
// alert's id from the path, the request body (when body is true), the action, its answer.
func actOnAlert[Req, Resp any](s *server, code int, body bool, act func(ctx context.Context, id int64, actor string, scope api.Scope, req Req, now time.Time) (Resp, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			req  Req
			resp Resp
			id   int64
		)
		p, scope, err := actorScope(r)
		if err == nil {
			id, err = alertID(r)
		}
		if err == nil && body {
			err = readJSON(w, r, &req)
		}
		if err == nil {
			resp, err = act(r.Context(), id, p.Name, scope, req, s.Clock.Now())
		}
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		writeJSON(w, code, resp)
	})
}

func (s *server) ackAlert() http.Handler {
	return actOnAlert(s, http.StatusOK, false, func(ctx context.Context, id int64, actor string, scope api.Scope, _ struct{}, now time.Time) (alerts.Alert, error) {
		a, err := s.Alerts.Ack(ctx, id, actor, scope, now)
		// Observed once: a repeated ack by the same actor returns the earlier time.
		if err == nil && a.AckedAt != nil && a.AckedAt.Equal(time.UnixMilli(now.UnixMilli())) {
			s.ackDelay.WithLabelValues(a.Priority.String()).Observe(a.AckedAt.Sub(a.RaisedAt).Seconds())
		}
		return a, err
	})
}

type resolveRequest struct {
	Outcome alerts.Outcome `json:"outcome"`
	Note    string         `json:"note"`
	// Seen is the alert as the caller saw it when they decided (its count of presses), so
	// that a decision on the first press does not close a press that came after it.
	Seen *alerts.Seen `json:"seen"`
}

func (s *server) resolveAlert() http.Handler {
	return actOnAlert(s, http.StatusOK, true, func(ctx context.Context, id int64, actor string, scope api.Scope, req resolveRequest, now time.Time) (alerts.Alert, error) {
		// Required: a resolve that does not say what it saw could close a press nobody
		// saw. Left out it is count 0, which the store refuses (400) after the scope check,
		// so a caller outside the alert's scope still gets 404.
		var seen alerts.Seen
		if req.Seen != nil {
			seen = *req.Seen
		}
		return s.Alerts.ResolveSeen(ctx, id, actor, scope, seen, req.Outcome, req.Note, now)
	})
}

type noteRequest struct {
	Text string `json:"text"`
}

func (s *server) addNote() http.Handler {
	return actOnAlert(s, http.StatusCreated, true, func(ctx context.Context, id int64, actor string, scope api.Scope, req noteRequest, now time.Time) (alerts.Note, error) {
		return s.Alerts.AddNote(ctx, id, actor, scope, req.Text, now)
	})
}
