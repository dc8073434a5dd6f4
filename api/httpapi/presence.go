package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// PresenceService is what staff say about going to the home (docs/alerts.md, "Presence"):
// take ("I'll go"), enroute ("on my way"), arrive, release (hand back). Each answers the
// alert as it is after the step; of two who take at once one wins and the other gets a
// conflict naming who has it.
type PresenceService interface {
	Take(ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error)
	Enroute(ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error)
	Arrive(ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error)
	Release(ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error)
}

type presenceStep func(p PresenceService, ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error)

// The steps by route (POST /alerts/{id}/take, /enroute, /arrived, /release).
var (
	takeStep    presenceStep = PresenceService.Take
	enrouteStep presenceStep = PresenceService.Enroute
	arriveStep  presenceStep = PresenceService.Arrive
	releaseStep presenceStep = PresenceService.Release
)

// presence serves one step for care staff of the alert's scope; the caller is the one
// who goes (who), named as in the audit log.
func (s *server) presence(step presenceStep) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, scope, err := actorScope(r)
		var id int64
		if err == nil {
			id, err = alertID(r)
		}
		if err == nil && s.Presence == nil {
			err = fmt.Errorf("%w: presence is not served by this API", api.ErrUnavailable)
		}
		var a alerts.Alert
		if err == nil {
			now := s.Clock.Now()
			a, err = step(s.Presence, r.Context(), id, alerts.Assignee{ID: p.UserID, Name: p.Name}, scope, now)
			// A take of an open alert is its acknowledgement: measured as /ack is.
			if err == nil && a.AckedAt != nil && a.AckedAt.Equal(time.UnixMilli(now.UnixMilli())) && a.AckedBy == p.Name {
				s.ackDelay.WithLabelValues(a.Priority.String()).Observe(a.AckedAt.Sub(a.RaisedAt).Seconds())
			}
		}
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
}
