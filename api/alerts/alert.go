// Package alerts is the care-alert model of the API: an alert's lifecycle (open →
// acknowledged → resolved), outcomes, the escalation and offline policies, the events that
// the live stream carries, and the loops that drive escalation and offline detection from an
// injected clock. The SQL store (api/sqlstore) implements the transactions; this package
// decides what they mean: what an alarm event does (fold.go), each escalation step
// (escalate.go) and the offline alert (offline.go), as plain Go the store calls inside its
// transactions.
package alerts

import (
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// ConflictError says that an alert was already acknowledged or resolved, and by whom.
type ConflictError struct {
	Alert  int64
	State  State
	By     string
	At     time.Time
	Action string // what the caller tried: "ack", "resolve", "note"
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("alert %d: cannot %s: already %s by %s at %s", e.Alert, e.Action, e.State, e.By, e.At.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return api.ErrConflict }

// State is where an alert is in its lifecycle.
type State string

// The states.
const (
	StateOpen         State = "open"
	StateAcknowledged State = "acknowledged"
	StateResolved     State = "resolved"
)

// Validate reports whether s is a known state.
func (s State) Validate() error {
	switch s {
	case StateOpen, StateAcknowledged, StateResolved:
		return nil
	}
	return fmt.Errorf("%w: state %q", api.ErrInvalid, s)
}

// Outcome is what staff found when they resolved an alert.
type Outcome string

// The outcomes.
const (
	OutcomeVisitedAllWell    Outcome = "visited_all_well"
	OutcomeVisitedHelpGiven  Outcome = "visited_help_given"
	OutcomeAmbulanceOrDoctor Outcome = "ambulance_or_doctor"
	OutcomeFalseAlarm        Outcome = "false_alarm"
	OutcomeTechnicalFault    Outcome = "technical_fault"
	OutcomeOther             Outcome = "other"
)

// Validate reports whether o is a known outcome.
func (o Outcome) Validate() error {
	switch o {
	case OutcomeVisitedAllWell, OutcomeVisitedHelpGiven, OutcomeAmbulanceOrDoctor,
		OutcomeFalseAlarm, OutcomeTechnicalFault, OutcomeOther:
		return nil
	}
	return fmt.Errorf("%w: outcome %q", api.ErrInvalid, o)
}

// MaxNoteLen bounds a note or a resolve comment, in bytes.
const MaxNoteLen = 4000

// Alert is one care alert as lists and the live stream show it (no personal data).
type Alert struct {
	ID              int64                 `json:"id"`
	State           State                 `json:"state"`
	Type            vagt.AlarmType        `json:"type"`
	Priority        vagt.Priority         `json:"priority"`
	Gateway         vagt.GatewayID        `json:"gateway"`
	Device          vagt.DeviceID         `json:"device"`
	Municipality    vagt.MunicipalityCode `json:"municipality"`
	District        int64                 `json:"district,omitempty"` // 0: the gateway is not registered
	Home            vagt.HomeID           `json:"home,omitempty"`
	Registered      bool                  `json:"registered"`
	RaisedAt        time.Time             `json:"raised_at"`
	LastAt          time.Time             `json:"last_at"` // the latest repeat folded into it
	Count           int                   `json:"count"`
	ClearedAt       *time.Time            `json:"cleared_at,omitempty"`
	AckedAt         *time.Time            `json:"acknowledged_at,omitempty"`
	AckedBy         string                `json:"acknowledged_by,omitempty"`
	ResolvedAt      *time.Time            `json:"resolved_at,omitempty"`
	ResolvedBy      string                `json:"resolved_by,omitempty"`
	Outcome         Outcome               `json:"outcome,omitempty"`
	EscalationLevel int                   `json:"escalation_level"`
	Tier            Tier                  `json:"tier"`
	EscalateAt      *time.Time            `json:"escalate_at,omitempty"`
	Details         map[string]string     `json:"details,omitempty"`
	// Presence (presence.go): who said "I'll go", when, "on my way", "arrived"; OverdueAt:
	// when the assignee missed their deadline (anyone in scope may take the alert over).
	Assignee  *Assignee  `json:"assignee,omitempty"`
	TakenAt   *time.Time `json:"taken_at,omitempty"`
	EnrouteAt *time.Time `json:"enroute_at,omitempty"`
	ArrivedAt *time.Time `json:"arrived_at,omitempty"`
	OverdueAt *time.Time `json:"overdue_at,omitempty"`
	Step      Step       `json:"step"`
	// Test marks an alert raised by a device that staff put in test mode ("prøvealarm"):
	// handled like any other, kept out of the response statistics.
	Test bool `json:"test,omitempty"`
}

// Detail is one alert with who and where: personal data, for staff of its district only.
type Detail struct {
	Alert
	Citizen     *api.Citizen `json:"citizen,omitempty"`
	Devices     []Device     `json:"devices"`
	Notes       []Note       `json:"notes"`
	Escalations []Escalation `json:"escalations"`
	// Timeline is every step with who and when, oldest first (presence.go).
	Timeline []TimelineEntry `json:"timeline"`
	// AwayUntil: the citizen is away (care plan absence) until then.
	AwayUntil *time.Time `json:"away_until,omitempty"`
	// Audience is who the alert reached beyond its district's staff (for the scope check;
	// not shown).
	Audience api.Audience `json:"-"`
}

// Device is a device of the home's gateway as the registry and the latest status know it.
type Device struct {
	ID         vagt.DeviceID   `json:"id"`
	Technology vagt.Technology `json:"technology,omitempty"`
	Label      string          `json:"label,omitempty"`
	LastSeen   *time.Time      `json:"last_seen,omitempty"`
	Battery    int             `json:"battery"`
	// TestUntil: in test mode until then (may be past); LastTestedAt: its last test alarm.
	TestUntil    *time.Time `json:"test_until,omitempty"`
	LastTestedAt *time.Time `json:"last_tested_at,omitempty"`
}

// Note is a free-text note on an alert.
type Note struct {
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

// Escalation is one step of an alert's escalation.
type Escalation struct {
	Level int       `json:"level"`
	Tier  Tier      `json:"tier"`
	At    time.Time `json:"at"`
}

// Filter selects alerts for a list. Zero fields do not filter.
type Filter struct {
	State    State
	District int64
	Priority vagt.Priority
	Before   int64 // paging: only alerts with a smaller id (lists run newest first)
	Limit    int
}
