package alerts

import (
	"encoding/json"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// EventKind is what happened to an alert, as the live stream names it.
type EventKind string

// The event kinds.
const (
	EventNew       EventKind = "new"
	EventUpdated   EventKind = "updated" // folded repeat, cleared, acknowledged, resolved, note
	EventEscalated EventKind = "escalated"
	// EventTaken, EventEnroute, EventArrived: presence.go.
	// EventReraised: a press on an acknowledged alert nobody has arrived at opened it again;
	// the console sounds for it like for a new alert, and the escalation clock restarts.
	EventReraised EventKind = "reraised"
)

// Event is one committed change of an alert. Ids increase in commit order, so a client
// that saw id N resumes with everything after N.
type Event struct {
	ID           int64                 `json:"id"`
	Kind         EventKind             `json:"kind"`
	At           time.Time             `json:"at"`
	Municipality vagt.MunicipalityCode `json:"-"`
	District     int64                 `json:"-"`
	Data         json.RawMessage       `json:"-"` // EventData as JSON
	// Audience is who the alert reached beyond its district's staff when the event was
	// written (audience.go): the stream sends the event to them too.
	Audience api.Audience `json:"-"`
}

// EventData is the body of a stream event.
type EventData struct {
	Change string `json:"change"` // "raised", "repeated", "cleared", "acknowledged", "resolved", "note", "escalated", "reraised", "taken", "released", "enroute", "arrived", "overdue"
	Alert  Alert  `json:"alert"`
}
