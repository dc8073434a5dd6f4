// Package registry is the API's registry model: municipalities with their regions, care
// districts, citizens (personal data), homes, gateways and devices with their technology
// and installation dates, and what a citizen's export and erasure consist of. The SQL store
// (api/sqlstore) keeps it; the statistics (api/stats) count from it.
package registry

import (
	"encoding/json"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// Municipality is one of the 98, with its region and the (illustrative) number of citizens
// aged 65 or more that comparisons are made per thousand of.
type Municipality struct {
	Code         vagt.MunicipalityCode `json:"code"`
	Name         string                `json:"name"`
	Region       vagt.Region           `json:"region"`
	RegionName   string                `json:"region_name"`
	Population65 int                   `json:"population_65plus,omitempty"`
}

// District is a home-care team's area.
type District struct {
	ID           int64                 `json:"id"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	Name         string                `json:"name"`
}

// Citizen is a citizen's registry record: personal data, role-protected and audited.
type Citizen struct {
	ID           int64                 `json:"id"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	Name         string                `json:"name"`
	Address      string                `json:"address"`
	KeyBoxNote   string                `json:"key_box_note"`
	Contacts     []api.Contact         `json:"contacts"`
	RegisteredAt time.Time             `json:"registered_at"`
	ErasedAt     *time.Time            `json:"erased_at,omitempty"`
}

// Home is where a gateway is installed; it belongs to a district and, usually, a citizen.
type Home struct {
	ID           vagt.HomeID           `json:"id"`
	District     int64                 `json:"district"`
	Citizen      int64                 `json:"citizen,omitempty"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	// DecommissionedAt is when the home was taken out of use; it stays in the registry
	// for the alerts, statistics and care plans that refer to it.
	DecommissionedAt *time.Time `json:"decommissioned_at,omitempty"`
}

// Gateway is a home's gateway with its link state.
type Gateway struct {
	ID           vagt.GatewayID        `json:"id"`
	Home         vagt.HomeID           `json:"home,omitempty"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	Online       bool                  `json:"online"`
	LastSeen     *time.Time            `json:"last_seen,omitempty"`
	Software     string                `json:"software,omitempty"`
	// DecommissionedAt is when the gateway was taken out of use: its password hash is
	// gone and the api ignores its status; it stays for history.
	DecommissionedAt *time.Time `json:"decommissioned_at,omitempty"`
}

// Credentials are a new gateway's MQTT login, returned once. The API answer carries what
// the installer needs (user name, password, ACL), not the hash: the broker's operator reads
// the password-file line from GET /gateways/{id}/password-file-line (admins).
type Credentials struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	PasswordHash string `json:"-"`
	ACL          string `json:"acl"`
}

// ACL is the broker rule every gateway runs under: it may publish under its own id only.
const ACL = "pattern write vagt/v1/gw/%u/#"

// DeviceState is where a device is in its life.
type DeviceState string

// The device states.
const (
	DevicePending   DeviceState = "pending"   // a gateway reported it; nobody registered it yet
	DeviceInstalled DeviceState = "installed" // registered and in use
	DeviceRemoved   DeviceState = "removed"   // taken out of use
)

// Device is a sensor or alarm device on a gateway.
type Device struct {
	ID          vagt.DeviceID   `json:"id"`
	Gateway     vagt.GatewayID  `json:"gateway"`
	Technology  vagt.Technology `json:"technology"`
	Label       string          `json:"label"`
	State       DeviceState     `json:"state"`
	InstalledAt *time.Time      `json:"installed_at,omitempty"`
	RemovedAt   *time.Time      `json:"removed_at,omitempty"`
	LastSeen    *time.Time      `json:"last_seen,omitempty"`
	Battery     int             `json:"battery"`
	// TestUntil: in test mode until then (its alarms raise alerts marked test); may be past.
	TestUntil *time.Time `json:"test_until,omitempty"`
	// LastTestedAt: when an alarm last came from it in test mode.
	LastTestedAt *time.Time `json:"last_tested_at,omitempty"`
}

// Erasure is what an erasure removed.
type Erasure struct {
	Citizen          int64            `json:"citizen"`
	Gateways         []vagt.GatewayID `json:"gateways"`
	ContactsDeleted  int              `json:"contacts_deleted"`
	AlertsAnonymised int              `json:"alerts_anonymised"`
	TelemetryDeleted bool             `json:"telemetry_deleted"`
}

// CitizenAlert is an alert in a citizen's export.
type CitizenAlert struct {
	ID       int64          `json:"id"`
	Type     vagt.AlarmType `json:"type"`
	Device   vagt.DeviceID  `json:"device"`
	RaisedAt time.Time      `json:"raised_at"`
	AckedAt  *time.Time     `json:"acked_at,omitempty"`
	// ArrivedAt is when staff said "arrived" (presence): how fast help came.
	ArrivedAt  *time.Time     `json:"arrived_at,omitempty"`
	ResolvedAt *time.Time     `json:"resolved_at,omitempty"`
	Outcome    alerts.Outcome `json:"outcome,omitempty"`
}

// Reading is one telemetry point in a citizen's export.
type Reading struct {
	Time    time.Time      `json:"time"`
	Gateway vagt.GatewayID `json:"gateway"`
	Device  vagt.DeviceID  `json:"device"`
	Kind    string         `json:"kind"`
	Value   float64        `json:"value"`
}

// Export is everything held about a citizen (GDPR art. 15 and 20).
type Export struct {
	Citizen   Citizen          `json:"citizen"`
	Homes     []Home           `json:"homes"`
	Devices   []Device         `json:"devices"`
	Alerts    []CitizenAlert   `json:"alerts"`
	Telemetry []Reading        `json:"telemetry"`
	AccessLog []api.AuditEntry `json:"access_log"`
	// NightChecks are the night checks of the citizen's homes (docs/night-supervision.md).
	NightChecks []CitizenNightCheck `json:"night_checks"`
	// Positions are the citizen's GPS trackers' positions still kept (docs/gps.md).
	Positions []Position `json:"gps_positions"`
}

// CitizenNightCheck is a night check of the citizen's home as the export shows it.
type CitizenNightCheck struct {
	Home      vagt.HomeID     `json:"home"`
	DueAt     time.Time       `json:"due_at"`
	CheckedAt time.Time       `json:"checked_at"`
	By        string          `json:"by"`
	Decision  string          `json:"decision"` // all_well, visit or missed
	Grade     string          `json:"grade"`
	State     json.RawMessage `json:"state"` // the state seen, with its findings
	Note      string          `json:"note,omitempty"`
	Missed    bool            `json:"missed"`
}

// Position is a GPS tracker's position in a citizen's export.
type Position struct {
	Tracker string    `json:"tracker"`
	At      time.Time `json:"at"`
	Lat     float64   `json:"lat"`
	Lon     float64   `json:"lon"`
	Acc     float64   `json:"acc_m"`
}
