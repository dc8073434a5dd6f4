package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/registry"
)

// Everyday edges (docs/alerts.md): a home's absence set from the console, devices put in
// test mode, devices not tested lately.

// putAbsence sets the home's absence ("away until") as the next version of its care plan:
// {"until": RFC 3339, "from": optional (now), "reason": "hospital" | "holiday" | "other"}.
func (s *server) putAbsence() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		p, scope, home, err := s.carePlanScope(r)
		if err != nil {
			return err
		}
		var a careplan.Absence
		if err := readJSON(w, r, &a); err != nil {
			return err
		}
		v, err := s.HomeConfigs.SetAbsence(r.Context(), scope, home, &a, p.Name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	})
}

// deleteAbsence ends the home's absence now (a new version without it).
func (s *server) deleteAbsence() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		p, scope, home, err := s.carePlanScope(r)
		if err != nil {
			return err
		}
		v, err := s.HomeConfigs.SetAbsence(r.Context(), scope, home, nil, p.Name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	})
}

// DeviceTests is test mode and the devices not tested lately, in the caller's scope.
type DeviceTests interface {
	SetTestMode(ctx context.Context, scope api.Scope, dev vagt.DeviceID, until time.Time, actor string, now time.Time) (registry.Device, error)
	DevicesUntested(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, period time.Duration, now time.Time) ([]registry.Device, error)
}

// errNoTestMode is a role without business with test mode, refused before the device is
// looked up, so the refusal does not tell whether it exists.
var errNoTestMode = fmt.Errorf("%w: test mode is for care staff and managers", api.ErrForbidden)

// DefaultTestMode is how long a device stays in test mode when the request names no time.
const DefaultTestMode = 30 * time.Minute

// testMode puts a device in test mode (start: {"minutes": 1..240}, default 30) or ends it.
// Test mode marks the device's alarms, so its scope is who handles them
// (api.Principal.AlertScope: staff of the home's district, managers of the municipality,
// admins); the registry service decides it on the device.
func (s *server) testMode(start bool) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.DeviceTests)
		if err != nil {
			return err
		}
		scope, ok := p.AlertScope()
		if !ok {
			return errNoTestMode
		}
		dev := vagt.DeviceID(chi.URLParam(r, "device"))
		now := s.Clock.Now()
		var until time.Time
		if start {
			var req struct {
				Minutes int `json:"minutes"`
			}
			if r.ContentLength != 0 {
				if err := readJSON(w, r, &req); err != nil {
					return err
				}
			}
			d := DefaultTestMode
			if req.Minutes != 0 {
				d = time.Duration(req.Minutes) * time.Minute
			}
			until = now.Add(d)
		}
		d, err := reg.SetTestMode(r.Context(), scope, dev, until, p.Name, now)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
}

// untestedDevices answers GET /devices?untested=720h: the devices not removed whose last
// test is older than the period, or that were never tested.
func untestedDevices(ctx context.Context, reg DeviceTests, scope api.Scope, m vagt.MunicipalityCode, param string, now time.Time) ([]registry.Device, error) {
	d, err := time.ParseDuration(param)
	if err != nil || d < time.Hour || d > 5*365*24*time.Hour {
		return nil, fmt.Errorf("%w: untested=%q: a duration from 1h to 5 years, e.g. 720h", api.ErrInvalid, param)
	}
	return reg.DevicesUntested(ctx, scope, m, d, now)
}
