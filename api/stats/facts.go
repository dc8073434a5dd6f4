package stats

import (
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// The facts statistics count, read from the registry and the alert store by a FactStore
// (api/sqlstore implements it): pseudonymous ids, no personal data.

// DeviceFact is what statistics count of a registered device: no personal data, only the
// pseudonymous citizen id (0: a home without a citizen).
type DeviceFact struct {
	Device       vagt.DeviceID
	Municipality vagt.MunicipalityCode
	Technology   vagt.Technology
	Citizen      int64
	InstalledAt  time.Time
	RemovedAt    *time.Time
	District     int64 // the home's district
	DistrictName string
}

// CitizenFact is when a citizen was registered in a municipality (the funnel's first step).
type CitizenFact struct {
	ID           int64
	Municipality vagt.MunicipalityCode
	RegisteredAt time.Time
}

// AlertFact is what alert statistics count of an alert.
type AlertFact struct {
	Municipality vagt.MunicipalityCode
	Type         vagt.AlarmType
	Priority     vagt.Priority
	RaisedAt     time.Time
	AckedAt      *time.Time
	ResolvedAt   *time.Time
	Outcome      alerts.Outcome
	Escalations  int
	// District (0: an unregistered gateway) and ArrivedAt: the response by district and
	// the time to arrival (api/stats/response.go).
	District     int64
	DistrictName string
	ArrivedAt    *time.Time
}
