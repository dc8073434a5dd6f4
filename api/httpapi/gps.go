package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/gps"
)

// GPS trackers (docs/gps.md): the OsmAnd endpoint trackers post to, the trackers and safe
// zones staff set for a home, and an alert's track for the console.

// GPSService is what the GPS endpoints need (api/gps.Service over api/sqlstore).
type GPSService interface {
	Accept(ctx context.Context, p gps.Position) error
	Refused(source, tracker string, err error)
	TrackerByKey(ctx context.Context, keyHash string) (string, error)
	CreateTracker(ctx context.Context, scope api.Scope, id string, home vagt.HomeID, keyHash, actor string, now time.Time) error
	SetSafeZones(ctx context.Context, scope api.Scope, home vagt.HomeID, zones []gps.Zone, actor string, now time.Time) error
	SafeZones(ctx context.Context, scope api.Scope, home vagt.HomeID) ([]gps.Zone, error)
	AlertTrack(ctx context.Context, scope api.Scope, id int64, limit int) (gps.Track, error)
	Limits() gps.Limits
}

// TrackerKeyHash is what the store keeps of a tracker's OsmAnd key.
func TrackerKeyHash(key string) string {
	h := sha256.Sum256([]byte("vagt-gps-key:" + key))
	return hex.EncodeToString(h[:])
}

// osmand takes one position in the OsmAnd protocol at /gps/osmand/{key}: Traccar Client's
// server URL is set to https://<api>/gps/osmand/<key>, so the key in the path says which
// tracker may send, and an id in the request naming another tracker is refused.
//
// A position the platform refuses for what it says (out of range, from the future,
// inaccurate, out of order, a duplicate) is answered 200 with {"accepted": false, ...}:
// Traccar Client keeps a position until it gets a 200 and sends nothing newer meanwhile,
// so a 4xx would hold every later fix — and the alarm it may carry — behind it.
func (s *server) osmand() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.GPS == nil {
			writeError(w, r, s.Logger, fmt.Errorf("%w: GPS trackers are not served by this API", api.ErrUnavailable))
			return
		}
		key := chi.URLParam(r, "key")
		tracker, err := s.GPS.TrackerByKey(r.Context(), TrackerKeyHash(key))
		if errors.Is(err, api.ErrNotFound) {
			s.GPS.Refused("osmand", "", &gps.Rejection{Reason: gps.ReasonUnknown, Msg: "no tracker has this key"})
			writeError(w, r, s.Logger, fmt.Errorf("%w: no tracker has this key", api.ErrUnauthenticated))
			return
		} else if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		p, err := gps.ParseOsmAnd(w, r)
		if err == nil && p.Tracker != tracker {
			err = &gps.Rejection{Reason: gps.ReasonImpersonated, Msg: fmt.Sprintf("this key is tracker %s's, the request says %.70q", tracker, p.Tracker)}
		}
		if err != nil {
			s.GPS.Refused("osmand", tracker, err)
			code := api.ErrInvalid
			if gps.ReasonOf(err) == gps.ReasonImpersonated {
				code = api.ErrForbidden
			}
			writeError(w, r, s.Logger, fmt.Errorf("%w: %w", code, err))
			return
		}
		err = s.GPS.Accept(r.Context(), p)
		var rej *gps.Rejection
		switch {
		case errors.As(err, &rej):
			writeJSON(w, http.StatusOK, map[string]any{"accepted": false, "reason": rej.Reason, "message": rej.Error()})
		case err != nil:
			writeError(w, r, s.Logger, err)
		default:
			writeJSON(w, http.StatusOK, map[string]any{"accepted": true})
		}
	})
}

// createTracker registers a tracker for the home: {"id": "gps.xxx"}; the answer carries
// the OsmAnd key once (only its hash is kept) and the URL for Traccar Client. The store
// decides the home against the caller's scope (the care plan's).
func (s *server) createTracker() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		if s.GPS == nil {
			return fmt.Errorf("%w: GPS trackers are not served by this API", api.ErrUnavailable)
		}
		p, scope, home, err := homeScope(r)
		if err != nil {
			return err
		}
		var req struct {
			ID string `json:"id"`
		}
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		key := base64.RawURLEncoding.EncodeToString(b)
		if err := s.GPS.CreateTracker(r.Context(), scope, req.ID, home, TrackerKeyHash(key), p.Name, s.Clock.Now()); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": req.ID, "home": string(home), "key": key,
			"osmand_path": "/gps/osmand/" + key, "mqtt_user": req.ID, "owntracks_topic": "owntracks/" + req.ID + "/phone"})
		return nil
	})
}

// getSafeZones answers the home's safe zones (audited before they are answered: where a
// citizen may walk is personal data).
func (s *server) getSafeZones() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		if s.GPS == nil {
			return fmt.Errorf("%w: GPS trackers are not served by this API", api.ErrUnavailable)
		}
		p, scope, home, err := homeScope(r)
		if err != nil {
			return err
		}
		zs, err := s.GPS.SafeZones(r.Context(), scope, home)
		if err != nil {
			return err
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "gps.zones.read", Object: "home/" + string(home)}); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"home": home, "zones": zs})
		return nil
	})
}

// putSafeZones replaces the home's safe zones: {"zones": [...]} (docs/gps.md).
func (s *server) putSafeZones() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		if s.GPS == nil {
			return fmt.Errorf("%w: GPS trackers are not served by this API", api.ErrUnavailable)
		}
		p, scope, home, err := homeScope(r)
		if err != nil {
			return err
		}
		var req struct {
			Zones []gps.Zone `json:"zones"`
		}
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		if req.Zones == nil {
			req.Zones = []gps.Zone{}
		}
		if err := s.GPS.SetSafeZones(r.Context(), scope, home, req.Zones, p.Name, s.Clock.Now()); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"home": home, "zones": req.Zones})
		return nil
	})
}

// alertTrack answers a tracker alert's zones and last positions to the care staff the
// alert reaches (the store decides, as for the alert); every read is audited.
func (s *server) alertTrack() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		if s.GPS == nil {
			return fmt.Errorf("%w: GPS trackers are not served by this API", api.ErrUnavailable)
		}
		p, scope, err := actorScope(r)
		if err != nil {
			return err
		}
		id, err := alertID(r)
		if err != nil {
			return err
		}
		tr, err := s.GPS.AlertTrack(r.Context(), scope, id, s.GPS.Limits().Track)
		if err != nil {
			return err
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "gps.track.read",
			Object: fmt.Sprintf("alert/%d", id), Detail: tr.Tracker}); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, tr)
		return nil
	})
}
