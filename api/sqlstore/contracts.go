package sqlstore

import (
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
)

// The contracts each service type implements, checked at compile time. The contracts sit
// beside their types (package api cannot import alerts or auth). The registry has no
// contract of its own: its consumers declare the few methods each uses (api/httpapi,
// registry*.go, citizen.go, edges.go), and the wiring (api/server) checks them.
var (
	_ alerts.Service     = (*AlertService)(nil)
	_ alerts.EventLog    = (*AlertService)(nil)
	_ alerts.GaugeReader = (*AlertService)(nil)
	_ api.AuditService   = (*AuditService)(nil)
	_ auth.TokenService  = (*UserService)(nil)
)
