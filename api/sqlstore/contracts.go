package sqlstore

import (
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/registry"
)

// The contracts each service type implements, checked at compile time. The contracts sit
// beside their types (package api cannot import alerts, registry or auth).
var (
	_ alerts.Service       = (*AlertService)(nil)
	_ alerts.EventLog      = (*AlertService)(nil)
	_ alerts.GaugeReader   = (*AlertService)(nil)
	_ api.AuditService     = (*AuditService)(nil)
	_ auth.TokenService    = (*UserService)(nil)
	_ registry.Directory   = (*RegistryService)(nil)
	_ registry.Scopes      = (*RegistryService)(nil)
	_ registry.Installs    = (*RegistryService)(nil)
	_ registry.DeviceTests = (*RegistryService)(nil)
	_ registry.Changes     = (*RegistryService)(nil)
	_ registry.CitizenData = (*RegistryService)(nil)
)
