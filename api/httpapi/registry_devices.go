package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

// GatewayRegistry lists, provisions, changes and decommissions gateways in the caller's
// scope. Provisioning decides the home's scope and, for a gateway registered already, the
// scope it is in now: naming it does not move it out of another municipality.
type GatewayRegistry interface {
	Gateways(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]registry.Gateway, error)
	ProvisionGateway(ctx context.Context, scope api.Scope, id vagt.GatewayID, home vagt.HomeID, secretHash, actor string, now time.Time) (registry.Gateway, error)
	UpdateGateway(ctx context.Context, scope api.Scope, id vagt.GatewayID, c registry.GatewayChange, actor string, now time.Time) (registry.Gateway, error)
	DecommissionGateway(ctx context.Context, scope api.Scope, id vagt.GatewayID, at time.Time, actor string, now time.Time) (registry.GatewayDecommission, error)
	RotateGatewayCredentials(ctx context.Context, scope api.Scope, id vagt.GatewayID, secretHash, actor string, now time.Time) (registry.Gateway, error)
}

// DeviceRegistry lists, installs, accepts and removes devices in the caller's scope.
type DeviceRegistry interface {
	Devices(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, state registry.DeviceState) ([]registry.Device, error)
	InstallDevice(ctx context.Context, scope api.Scope, d registry.Device, actor string, now time.Time) (registry.Device, error)
	AcceptDevice(ctx context.Context, scope api.Scope, id vagt.DeviceID, tech vagt.Technology, label string, installedAt time.Time, actor string, now time.Time) (registry.Device, error)
	RemoveDevice(ctx context.Context, scope api.Scope, id vagt.DeviceID, removedAt time.Time, actor string, now time.Time) (registry.Device, error)
}

type gatewayRequest struct {
	ID   vagt.GatewayID `json:"id"`
	Home vagt.HomeID    `json:"home"`
}

// createGateway is POST /gateways: the registry service decides the caller's scope over the
// home and over a gateway of that id registered already, in the transaction that
// provisions it. The MQTT password is shown once.
func (s *server) createGateway() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.Gateways)
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		var req gatewayRequest
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		if err := req.ID.Validate(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		cred, err := registry.NewCredentials(req.ID)
		if err != nil {
			return err
		}
		g, err := reg.ProvisionGateway(r.Context(), scope, req.ID, req.Home, cred.PasswordHash, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"gateway": g, "mqtt": cred})
		return nil
	})
}

type deviceRequest struct {
	ID          vagt.DeviceID   `json:"id"`
	Gateway     vagt.GatewayID  `json:"gateway"`
	Technology  vagt.Technology `json:"technology"`
	Label       string          `json:"label"`
	InstalledAt *time.Time      `json:"installed_at"`
	RemovedAt   *time.Time      `json:"removed_at"`
}

// createDevice is POST /devices: the registry service decides the caller's scope over the
// gateway and over a device of that id registered already.
func (s *server) createDevice() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.Devices)
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		var req deviceRequest
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		d, err := reg.InstallDevice(r.Context(), scope, registry.Device{ID: req.ID, Gateway: req.Gateway, Technology: req.Technology,
			Label: req.Label, InstalledAt: req.InstalledAt}, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, d)
		return nil
	})
}

// deviceAction handles accept and remove of a device; the registry service decides the
// caller's scope.
func (s *server) deviceAction(accept bool) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.Devices)
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		id := vagt.DeviceID(chi.URLParam(r, "device"))
		var req deviceRequest
		if r.ContentLength != 0 {
			if err := readJSON(w, r, &req); err != nil {
				return err
			}
		}
		now := s.Clock.Now()
		var d registry.Device
		if accept {
			at := now
			if req.InstalledAt != nil {
				at = *req.InstalledAt
			}
			d, err = reg.AcceptDevice(r.Context(), scope, id, req.Technology, req.Label, at, p.Name, now)
		} else {
			at := now
			if req.RemovedAt != nil {
				at = *req.RemovedAt
			}
			d, err = reg.RemoveDevice(r.Context(), scope, id, at, p.Name, now)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
}
