package night

import (
	"time"

	"github.com/vagt-dk/vagt"
)

// The words of a recorded check, which the store (api/sqlstore) reads and writes and the
// HTTP API returns: the store implements Store in these, so the service and its callers
// need not import the store.

// Check decisions.
const (
	AllWell = "all_well" // checked remotely, all well: a visit avoided
	Visit   = "visit"    // a visit is needed: an alert on the alarm lane
	Missed  = "missed"   // nobody checked within the window: an alert
)

// Check is one check of one home at one due time.
type Check struct {
	ID            int64                 `json:"id"`
	Home          vagt.HomeID           `json:"home"`
	Municipality  vagt.MunicipalityCode `json:"municipality"`
	DueAt         time.Time             `json:"due_at"`
	CheckedAt     time.Time             `json:"checked_at"`
	By            string                `json:"by"`
	Decision      string                `json:"decision"`
	Grade         string                `json:"grade"`
	State         RawJSON               `json:"state"`
	Note          string                `json:"note,omitempty"`
	AlertID       *int64                `json:"alert_id,omitempty"`
	Missed        bool                  `json:"missed"` // the window passed before it was made
	MissedAlertID *int64                `json:"missed_alert_id,omitempty"`
}

// RawJSON is JSON stored as text and passed through as it is.
type RawJSON []byte

// MarshalJSON writes the stored JSON (null when empty).
func (j RawJSON) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

// VisitAlert is the alert a check raises: on the home's gateway, about the home as a whole.
type VisitAlert struct {
	Gateway vagt.GatewayID
	Details map[string]string
}

// PlannedHome is a home whose care plan names night checks, with what the board shows of it.
type PlannedHome struct {
	Home         vagt.HomeID
	Municipality vagt.MunicipalityCode
	District     int64
	Citizen      string // the citizen's name; "" none registered
	Gateway      vagt.GatewayID
	Online       bool
	LastSeen     *time.Time
	Effective    []byte    // the care plan with defaults filled in (JSON)
	ChangedAt    time.Time // when the plan was last saved: no check before it counts as missed
	// AwayFrom and AwayUntil are the citizen's absence in the care plan (nil: none): no
	// check falls due while the citizen is away.
	AwayFrom, AwayUntil *time.Time
}

// CheckCounts are a municipality's checks in an interval by decision.
type CheckCounts struct {
	Remote int `json:"checks_remote"` // checked remotely, all well
	Visits int `json:"checks_visit"`  // a visit was needed
	Missed int `json:"checks_missed"` // the window passed unchecked (a later check counts as well)
}
