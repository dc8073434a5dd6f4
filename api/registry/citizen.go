package registry

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// The citizen's own page and relatives' access by consent (docs/citizen.md): the words
// api/sqlstore (relatives.go) stores and api/httpapi answers with.

// Relative grants name what a relative may see. The key-box code is never a part.
const (
	PartAlarms  = "alarms"  // alarms and their outcome
	PartDevices = "devices" // device status (battery, last heard)
)

// RelativeGrant is a citizen's consent that a named relative sees a part of their data.
type RelativeGrant struct {
	ID           int64      `json:"id"`
	Citizen      int64      `json:"citizen"`
	RelativeName string     `json:"relative_name"`
	Relation     string     `json:"relation"`
	Parts        []string   `json:"parts"`
	From         time.Time  `json:"from"`
	Until        time.Time  `json:"until"`
	GrantedBy    string     `json:"granted_by"`
	Consent      string     `json:"consent"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokedBy    string     `json:"revoked_by,omitempty"`
	// Live is Active at the time of the answer, by the server's clock (not the browser's).
	Live bool `json:"active"`
}

// Active reports whether g lets its relative in at now.
func (g RelativeGrant) Active(now time.Time) bool {
	return g.RevokedAt == nil && !now.Before(g.From) && now.Before(g.Until)
}

// Has reports whether g covers part.
func (g RelativeGrant) Has(part string) bool { return slices.Contains(g.Parts, part) }

// NewGrant is what a grant is made of; IDHash is the keyed hash of the relative's national
// identity (auth.IdentityKey), RelativeUser the relative's login name derived from it.
type NewGrant struct {
	Citizen      int64
	RelativeName string
	IDHash       string
	RelativeUser string
	Parts        []string
	From, Until  time.Time
	GrantedBy    string
	Consent      string // "citizen" when the citizen granted it, else the staff's note of the consent
}

// CitizenView is what the citizen's page shows: devices, alarms with their times, and who
// looked at the record. Audited as citizen.view by actor (the citizen or a relative).
type CitizenView struct {
	Citizen   int64            `json:"citizen"`
	Name      string           `json:"name"`
	Homes     []vagt.HomeID    `json:"homes"`
	Devices   []Device         `json:"devices"`
	Alerts    []CitizenAlert   `json:"alerts"`
	AccessLog []api.AuditEntry `json:"access_log"`
}

// CitizenCarePlan is a home's care plan as the citizen's page words it: the settings
// staff wrote (the page says what the home watches and when).
type CitizenCarePlan struct {
	Home vagt.HomeID `json:"home"`
	// Settings are careplan.Settings as stored (registry does not import careplan).
	Settings json.RawMessage `json:"settings"`
}
