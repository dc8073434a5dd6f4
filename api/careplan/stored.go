package careplan

import (
	"time"

	"github.com/vagt-dk/vagt"
)

// The words of a stored care plan, in which the store (api/sqlstore.CarePlanService)
// implements Store: the store keeps the JSON as it is given; the service validates and
// reads it.

// HomeConfigRow is one version of a home's configuration.
type HomeConfigRow struct {
	Home      vagt.HomeID
	Version   uint64
	Settings  []byte // JSON as staff wrote it
	Effective []byte // JSON with the defaults filled in
	ChangedAt time.Time
	ChangedBy string
}

// HomeFacts is what deciding on a home's configuration needs from the registry.
type HomeFacts struct {
	Home         vagt.HomeID
	Municipality vagt.MunicipalityCode
	District     int64
	Gateways     []vagt.GatewayID
	Devices      map[vagt.DeviceID]vagt.Technology // behind the home's gateways
}

// GatewayConfigState is what a gateway runs as far as the platform knows.
type GatewayConfigState struct {
	Gateway     vagt.GatewayID
	Home        vagt.HomeID // "" not installed
	Desired     uint64      // the version of its home's configuration; 0 none
	Applied     uint64      // the version its status reported; 0 none yet
	Refused     string      // why it refused the latest configuration it was sent
	ReportedAt  *time.Time  // since when it reports this version and refusal
	Published   uint64      // the version last published to it
	PublishedAt *time.Time
	Online      bool
}

// GatewayLink is what the store knows of a gateway's link; the pusher needs its home.
type GatewayLink struct {
	ID           vagt.GatewayID
	Home         vagt.HomeID
	Municipality vagt.MunicipalityCode
	Online       bool
	LastSeen     *time.Time
	OfflineSince *time.Time
	Heartbeat    time.Duration
	Software     string
}

// HomeConfigLine is one home and one of its gateways (Gateway "" without one) for the
// overview of a municipality's care plans.
type HomeConfigLine struct {
	Home     vagt.HomeID
	District int64
	Desired  uint64
	Gateway  vagt.GatewayID
	Online   bool
	Applied  uint64
	Refused  string
	// AwayFrom and AwayUntil: the plan's absence (api/sqlstore, edges.go); nil: none.
	AwayFrom, AwayUntil *time.Time
	// Citizen is the name of the home's citizen ("" for none or erased): personal data,
	// for callers that audit its read.
	Citizen string
}

// HomeCoverage is what the care-plan overview needs to say how many of a home's devices
// its plan covers: the devices registered behind its (not decommissioned) gateways, and
// its plan as written (settings JSON; nil without one).
type HomeCoverage struct {
	Registered []vagt.DeviceID
	Plan       []byte
}
