package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

// change serves a change to one registry object named in the URL, of the area given: the
// caller must keep a registry (403 before anything is looked up); the registry service
// decides in the transaction that changes the object whether it exists (404) and is in the
// caller's scope (api.Principal.RegistryScope; answered as missing).
func change[T comparable](s *server, area T, do func(w http.ResponseWriter, r *http.Request, p *api.Principal, scope api.Scope, reg T, id string) error) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(area)
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		return do(w, r, p, scope, reg, chi.URLParam(r, "id"))
	})
}

func numericID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %s id %q", api.ErrNotFound, what, s)
	}
	return id, nil
}

// bodyFieldError is a request body that does not decode, with the field it fails on.
type bodyFieldError struct {
	field string
	err   error
}

func (e *bodyFieldError) Error() string        { return e.err.Error() }
func (e *bodyFieldError) Unwrap() error        { return e.err }
func (e *bodyFieldError) InvalidField() string { return e.field }

// The field in encoding/json's messages for an unknown field and a value of the wrong type.
var (
	unknownFieldRE = regexp.MustCompile(`unknown field "([^"]+)"`)
	typeFieldRE    = regexp.MustCompile(`Go struct field [A-Za-z0-9_]+\.([A-Za-z0-9_.\[\]]+) of type`)
)

// readChange decodes a PATCH body: only the fields present change, an unknown field or a
// value of the wrong type is a 400 that names the field.
func readChange(w http.ResponseWriter, r *http.Request, v any) error {
	err := readJSON(w, r, v)
	if err == nil || !errors.Is(err, errBadJSON) {
		return err
	}
	for _, re := range []*regexp.Regexp{unknownFieldRE, typeFieldRE} {
		if m := re.FindStringSubmatch(err.Error()); m != nil {
			return &bodyFieldError{field: m[1], err: err}
		}
	}
	return err
}

// decommissionedAt reads the optional ?decommissioned_at= (RFC 3339 or a date, UTC) of a
// decommission; now without it.
func decommissionedAt(r *http.Request, now time.Time) (time.Time, error) {
	v := r.URL.Query().Get("decommissioned_at")
	if v == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		t, err = time.Parse(time.DateOnly, v)
	}
	if err != nil {
		return now, &api.FieldError{Field: "decommissioned_at", Reason: "want RFC 3339 or YYYY-MM-DD"}
	}
	return t.UTC(), nil
}

func (s *server) updateDistrict() http.Handler {
	return change(s, s.Registry.Districts, func(w http.ResponseWriter, r *http.Request, p *api.Principal, scope api.Scope, reg DistrictRegistry, id string) error {
		n, err := numericID("district", id)
		if err != nil {
			return err
		}
		var c registry.DistrictChange
		if err := readChange(w, r, &c); err != nil {
			return err
		}
		d, err := reg.UpdateDistrict(r.Context(), scope, n, c, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
}

func (s *server) deleteDistrict() http.Handler {
	return change(s, s.Registry.Districts, func(w http.ResponseWriter, r *http.Request, p *api.Principal, scope api.Scope, reg DistrictRegistry, id string) error {
		n, err := numericID("district", id)
		if err != nil {
			return err
		}
		if err := reg.DeleteDistrict(r.Context(), scope, n, p.Name, s.Clock.Now()); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func (s *server) updateHome() http.Handler {
	return change(s, s.Registry.Homes, func(w http.ResponseWriter, r *http.Request, p *api.Principal, scope api.Scope, reg HomeRegistry, id string) error {
		var c registry.HomeChange
		if err := readChange(w, r, &c); err != nil {
			return err
		}
		h, err := reg.UpdateHome(r.Context(), scope, vagt.HomeID(id), c, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, h)
		return nil
	})
}

func (s *server) decommissionHome() http.Handler {
	return change(s, s.Registry.Homes, func(w http.ResponseWriter, r *http.Request, p *api.Principal, scope api.Scope, reg HomeRegistry, id string) error {
		now := s.Clock.Now()
		at, err := decommissionedAt(r, now)
		if err != nil {
			return err
		}
		h, err := reg.DecommissionHome(r.Context(), scope, vagt.HomeID(id), at, p.Name, now)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, h)
		return nil
	})
}

func (s *server) updateGateway() http.Handler {
	return change(s, s.Registry.Gateways, func(w http.ResponseWriter, r *http.Request, p *api.Principal, scope api.Scope, reg GatewayRegistry, id string) error {
		var c registry.GatewayChange
		if err := readChange(w, r, &c); err != nil {
			return err
		}
		g, err := reg.UpdateGateway(r.Context(), scope, vagt.GatewayID(id), c, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, g)
		return nil
	})
}

func (s *server) decommissionGateway() http.Handler {
	return change(s, s.Registry.Gateways, func(w http.ResponseWriter, r *http.Request, p *api.Principal, scope api.Scope, reg GatewayRegistry, id string) error {
		now := s.Clock.Now()
		at, err := decommissionedAt(r, now)
		if err != nil {
			return err
		}
		d, err := reg.DecommissionGateway(r.Context(), scope, vagt.GatewayID(id), at, p.Name, now)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
}

// rotateGatewayCredentials issues a gateway new MQTT credentials, shown once, in the shape
// of POST /gateways. The old password works at the broker until its line is replaced.
func (s *server) rotateGatewayCredentials() http.Handler {
	return change(s, s.Registry.Gateways, func(w http.ResponseWriter, r *http.Request, p *api.Principal, scope api.Scope, reg GatewayRegistry, id string) error {
		cred, err := registry.NewCredentials(vagt.GatewayID(id))
		if err != nil {
			return err
		}
		g, err := reg.RotateGatewayCredentials(r.Context(), scope, vagt.GatewayID(id), cred.PasswordHash, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"gateway": g, "mqtt": cred})
		return nil
	})
}

// updateCitizen is PATCH /citizens/{id}: the registry service decides access to the
// citizen (api.Principal.RegistryScope) in the transaction that changes it.
func (s *server) updateCitizen() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.Citizens)
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		id, err := citizenID(r)
		if err != nil {
			return err
		}
		var c registry.CitizenChange
		if err := readChange(w, r, &c); err != nil {
			return err
		}
		cit, err := reg.UpdateCitizen(r.Context(), scope, id, c, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, cit)
		return nil
	})
}
