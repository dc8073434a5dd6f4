package sqlstore

import (
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/night"
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

	// Care plans and night supervision declare the stores they consume in their own words
	// (careplan.HomeFacts, night.Check, ...); the store implements them, never the other
	// way round (TestConsumersDoNotImportTheStore, api/imports_test.go).
	_ careplan.Store   = (*CarePlanService)(nil)
	_ night.Store      = (*NightService)(nil)
	_ night.CountStore = (*NightService)(nil)
)
