package sqlstore

import (
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/registry"
)

// The contracts the store implements, checked at compile time.
var (
	_ alerts.Service       = (*Store)(nil)
	_ alerts.EventLog      = (*Store)(nil)
	_ api.AuditService     = (*Store)(nil)
	_ auth.TokenService    = (*Store)(nil)
	_ registry.Directory   = (*Store)(nil)
	_ registry.Scopes      = (*Store)(nil)
	_ registry.Installs    = (*Store)(nil)
	_ registry.DeviceTests = (*Store)(nil)
	_ registry.Changes     = (*Store)(nil)
	_ registry.CitizenData = (*Store)(nil)
)
