package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
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

// mayTest checks that the caller may put the device in test mode: staff of its home's
// district (staff without districts: the municipality), managers of its municipality,
// admins.
func (s *server) mayTest(ctx context.Context, reg registry.Scopes, p *api.Principal, dev vagt.DeviceID) error {
	if p.Role != api.RoleAdmin && p.Role != api.RoleManager && p.Role != api.RoleStaff {
		// Before the look-up: a role refusal must not depend on whether the device exists.
		return fmt.Errorf("%w: test mode is for care staff and managers", api.ErrForbidden)
	}
	m, district, err := reg.DeviceScope(ctx, dev)
	if err != nil {
		return err
	}
	switch p.Role {
	case api.RoleAdmin:
		return nil
	case api.RoleManager:
		if p.Municipality == m {
			return nil
		}
	case api.RoleStaff:
		if p.Municipality == m && (len(p.Districts) == 0 || slices.Contains(p.Districts, district)) {
			return nil
		}
	}
	// Out of scope answers like a device that does not exist (docs/operations.md).
	return fmt.Errorf("device %s: %w", dev, api.ErrOutOfScope)
}

// DefaultTestMode is how long a device stays in test mode when the request names no time.
const DefaultTestMode = 30 * time.Minute

// testMode puts a device in test mode (start: {"minutes": 1..240}, default 30) or ends it.
func (s *server) testMode(start bool) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		dev := vagt.DeviceID(chi.URLParam(r, "device"))
		if err := s.mayTest(r.Context(), reg, p, dev); err != nil {
			return err
		}
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
		if err := reg.SetTestMode(r.Context(), dev, until, p.Name, now); err != nil {
			return err
		}
		d, err := reg.Device(r.Context(), dev)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
}

// untestedDevices answers GET /devices?untested=720h: the devices not removed whose last
// test is older than the period, or that were never tested.
func untestedDevices(ctx context.Context, reg registry.DeviceTests, m vagt.MunicipalityCode, param string, now time.Time) ([]registry.Device, error) {
	d, err := time.ParseDuration(param)
	if err != nil || d < time.Hour || d > 5*365*24*time.Hour {
		return nil, fmt.Errorf("%w: untested=%q: a duration from 1h to 5 years, e.g. 720h", api.ErrInvalid, param)
	}
	return reg.DevicesUntested(ctx, m, d, now)
}
