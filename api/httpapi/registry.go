package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/registry"
)

// RegistryStore is what the registry, citizen and erasure endpoints need of the store.
type RegistryStore interface {
	RegistryChanges
	Municipalities(ctx context.Context) ([]registry.Municipality, error)
	Districts(ctx context.Context, m vagt.MunicipalityCode) ([]registry.District, error)
	CreateDistrict(ctx context.Context, m vagt.MunicipalityCode, name string) (int64, error)
	DistrictMunicipality(ctx context.Context, id int64) (vagt.MunicipalityCode, error)
	RegisterCitizen(ctx context.Context, c registry.Citizen, actor string, now time.Time) (registry.Citizen, error)
	Citizens(ctx context.Context, m vagt.MunicipalityCode, actor string, now time.Time) ([]registry.Citizen, error)
	Citizen(ctx context.Context, id int64, actor string, now time.Time) (registry.Citizen, error)
	CitizenMunicipality(ctx context.Context, id int64) (vagt.MunicipalityCode, error)
	AddHome(ctx context.Context, h registry.Home) (registry.Home, error)
	Homes(ctx context.Context, m vagt.MunicipalityCode) ([]registry.Home, error)
	HomeMunicipality(ctx context.Context, id vagt.HomeID) (vagt.MunicipalityCode, error)
	ProvisionGateway(ctx context.Context, id vagt.GatewayID, home vagt.HomeID, secretHash, actor string, now time.Time) error
	Gateways(ctx context.Context, m vagt.MunicipalityCode) ([]registry.Gateway, error)
	GatewayMunicipality(ctx context.Context, id vagt.GatewayID) (vagt.MunicipalityCode, error)
	InstallDevice(ctx context.Context, d registry.Device, actor string, now time.Time) (registry.Device, error)
	AcceptDevice(ctx context.Context, id vagt.DeviceID, tech vagt.Technology, label string, installedAt time.Time, actor string, now time.Time) (registry.Device, error)
	RemoveDevice(ctx context.Context, id vagt.DeviceID, removedAt time.Time, actor string, now time.Time) (registry.Device, error)
	Devices(ctx context.Context, m vagt.MunicipalityCode, state registry.DeviceState) ([]registry.Device, error)
	DeviceMunicipality(ctx context.Context, id vagt.DeviceID) (vagt.MunicipalityCode, error)
	// Test mode and tests (edges.go).
	Device(ctx context.Context, id vagt.DeviceID) (registry.Device, error)
	DeviceScope(ctx context.Context, id vagt.DeviceID) (vagt.MunicipalityCode, int64, error)
	SetTestMode(ctx context.Context, dev vagt.DeviceID, until time.Time, actor string, now time.Time) error
	DevicesUntested(ctx context.Context, m vagt.MunicipalityCode, period time.Duration, now time.Time) ([]registry.Device, error)
	LinkCitizenUser(ctx context.Context, userID, citizen int64) error
	CitizenOfUser(ctx context.Context, userID int64) (int64, error)
	CitizenGateways(ctx context.Context, citizen int64) ([]vagt.GatewayID, error)
	CitizenExport(ctx context.Context, citizen int64, actor string, now time.Time) (registry.Export, error)
	EraseCitizen(ctx context.Context, citizen int64, actor string, now time.Time) (registry.Erasure, error)
}

var errNoRegistry = fmt.Errorf("%w: the registry is not configured", alerts.ErrUnavailable)

// handle turns a function that answers or fails into a handler; the failure goes through
// writeError, the one place errors become statuses.
func (s *server) handle(f func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r, auth.FromContext(r.Context())); err != nil {
			writeError(w, r, s.Logger, err)
		}
	})
}

// registryScope returns the municipality a registry read covers: a manager's own (asking
// for another is forbidden), an admin's choice (0: all). Other roles keep no registry.
func registryScope(p *auth.Principal, requested string) (vagt.MunicipalityCode, error) {
	var m vagt.MunicipalityCode
	if requested != "" {
		n, err := strconv.ParseUint(requested, 10, 16)
		if err != nil || vagt.MunicipalityCode(n).Validate() != nil {
			return 0, fmt.Errorf("%w: unknown municipality %q", alerts.ErrInvalid, requested)
		}
		m = vagt.MunicipalityCode(n)
	}
	switch p.Role {
	case auth.RoleAdmin:
		return m, nil
	case auth.RoleManager:
		if m != 0 && m != p.Municipality {
			return 0, fmt.Errorf("%w: managers see their own municipality (%d) only", alerts.ErrForbidden, p.Municipality)
		}
		return p.Municipality, nil
	}
	return 0, fmt.Errorf("%w: the registry is for managers and admins", alerts.ErrForbidden)
}

// mayManage checks that the principal may change the registry of municipality m.
func mayManage(p *auth.Principal, m vagt.MunicipalityCode) error {
	if p.Role == auth.RoleAdmin || (p.Role == auth.RoleManager && p.Municipality == m) {
		return nil
	}
	if p.Role != auth.RoleManager {
		return fmt.Errorf("%w: the registry is for managers and admins", alerts.ErrForbidden)
	}
	return auth.ErrOutOfScope // answered as a missing object: names no municipality
}

func (s *server) registryStore() (RegistryStore, error) {
	if s.Registry == nil {
		return nil, errNoRegistry
	}
	return s.Registry, nil
}

func (s *server) listMunicipalities() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		ms, err := reg.Municipalities(r.Context())
		if err != nil {
			return err
		}
		if s.Population == nil {
			writeJSON(w, http.StatusOK, map[string]any{"municipalities": ms})
			return nil
		}
		for i := range ms {
			ms[i].Population65 = s.Population.Of(ms[i].Code)
		}
		writeJSON(w, http.StatusOK, map[string]any{"municipalities": ms, "population_65plus": s.Population.Info()})
		return nil
	})
}

// list answers a registry list in the caller's scope under key.
func (s *server) list(key string, f func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, r *http.Request, p *auth.Principal) (any, error)) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		m, err := registryScope(p, r.URL.Query().Get("municipality"))
		if err != nil {
			return err
		}
		v, err := f(r.Context(), reg, m, r, p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{key: v})
		return nil
	})
}

func (s *server) listDistricts() http.Handler {
	return s.list("districts", func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, _ *http.Request, _ *auth.Principal) (any, error) {
		return reg.Districts(ctx, m)
	})
}

func (s *server) listCitizens() http.Handler {
	return s.list("citizens", func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, _ *http.Request, p *auth.Principal) (any, error) {
		return reg.Citizens(ctx, m, p.Name, s.Clock.Now())
	})
}

func (s *server) listHomes() http.Handler {
	return s.list("homes", func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, _ *http.Request, _ *auth.Principal) (any, error) {
		return reg.Homes(ctx, m)
	})
}

func (s *server) listGateways() http.Handler {
	return s.list("gateways", func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, _ *http.Request, _ *auth.Principal) (any, error) {
		return reg.Gateways(ctx, m)
	})
}

func (s *server) listDevices() http.Handler {
	return s.list("devices", func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, r *http.Request, _ *auth.Principal) (any, error) {
		state := registry.DeviceState(r.URL.Query().Get("state"))
		switch state {
		case "", registry.DevicePending, registry.DeviceInstalled, registry.DeviceRemoved:
		default:
			return nil, fmt.Errorf("%w: state must be pending, installed or removed", alerts.ErrInvalid)
		}
		if u := r.URL.Query().Get("untested"); u != "" {
			return untestedDevices(ctx, reg, m, u, s.Clock.Now())
		}
		return reg.Devices(ctx, m, state)
	})
}

func (s *server) createDistrict() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		var d registry.District
		if err := readJSON(w, r, &d); err != nil {
			return err
		}
		if d.Municipality == 0 && p.Role == auth.RoleManager {
			d.Municipality = p.Municipality
		}
		if err := mayManage(p, d.Municipality); err != nil {
			return err
		}
		if d.Name == "" || len(d.Name) > 100 {
			return fmt.Errorf("%w: name must be 1-100 bytes", alerts.ErrInvalid)
		}
		if d.ID, err = reg.CreateDistrict(r.Context(), d.Municipality, d.Name); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, d)
		return nil
	})
}

func (s *server) createCitizen() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		var c registry.Citizen
		if err := readJSON(w, r, &c); err != nil {
			return err
		}
		if c.Municipality == 0 && p.Role == auth.RoleManager {
			c.Municipality = p.Municipality
		}
		if err := mayManage(p, c.Municipality); err != nil {
			return err
		}
		c, err = reg.RegisterCitizen(r.Context(), c, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, c)
		return nil
	})
}

func citizenID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: citizen id %q", alerts.ErrNotFound, chi.URLParam(r, "id"))
	}
	return id, nil
}

// citizenInScope finds the citizen's municipality and checks the caller may manage it.
func citizenInScope(ctx context.Context, reg RegistryStore, r *http.Request, p *auth.Principal) (int64, error) {
	id, err := citizenID(r)
	if err != nil {
		return 0, err
	}
	if p.Role != auth.RoleAdmin && p.Role != auth.RoleManager {
		return 0, fmt.Errorf("%w: the registry is for managers and admins", alerts.ErrForbidden)
	}
	m, err := reg.CitizenMunicipality(ctx, id)
	if err != nil {
		return 0, err
	}
	return id, mayManage(p, m)
}

func (s *server) getCitizen() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		id, err := citizenInScope(r.Context(), reg, r, p)
		if err != nil {
			return err
		}
		c, err := reg.Citizen(r.Context(), id, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c)
		return nil
	})
}

func (s *server) createHome() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		var h registry.Home
		if err := readJSON(w, r, &h); err != nil {
			return err
		}
		m, err := reg.DistrictMunicipality(r.Context(), h.District)
		if err != nil {
			return fmt.Errorf("%w: %w", alerts.ErrInvalid, err)
		}
		if err := mayManage(p, m); err != nil {
			return err
		}
		if h, err = reg.AddHome(r.Context(), h); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, h)
		return nil
	})
}
