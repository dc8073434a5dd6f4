package alerts

import (
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
)

// Presence is what staff say about going to the home (issue 21 item 3): "I'll go" (take:
// the caller becomes the assignee), "on my way" (enroute), "arrived", then resolve with an
// outcome. The alert's State stays open/acknowledged/resolved; Step names the furthest of
// these for a screen that wants one word.

// Assignee is the member of staff who said "I'll go".
type Assignee struct {
	// ID is the user's id in vagt (0: signed in through OIDC, no vagt user).
	ID   int64  `json:"id"`
	Name string `json:"name"` // the actor name, as the audit log and acknowledged_by have it
}

// Step is where an alert is, as one word.
type Step string

// The steps, in order.
const (
	StepOpen         Step = "open"
	StepAcknowledged Step = "acknowledged"
	StepTaken        Step = "taken"
	StepEnroute      Step = "enroute"
	StepArrived      Step = "arrived"
	StepResolved     Step = "resolved"
)

// StepOf returns a's step from its state and presence times.
func StepOf(a *Alert) Step {
	switch {
	case a.State == StateResolved:
		return StepResolved
	case a.ArrivedAt != nil:
		return StepArrived
	case a.EnrouteAt != nil:
		return StepEnroute
	case a.Assignee != nil:
		return StepTaken
	case a.State == StateAcknowledged:
		return StepAcknowledged
	}
	return StepOpen
}

// The stream's event kinds of presence (their data's change has the same name), and the
// changes that travel as EventUpdated.
const (
	EventTaken   EventKind = "taken"
	EventEnroute EventKind = "enroute"
	EventArrived EventKind = "arrived"
	// ChangeReleased: the assignee handed the alert back (it is open again).
	ChangeReleased = "released"
	// ChangeOverdue: the assignee did not say "on my way" or "arrived" in time; the alert
	// stays with them and anyone who may see it can take it over.
	ChangeOverdue = "overdue"
)

// TakenError says that somebody else holds the alert (they said "I'll go" first, and are
// not overdue). It unwraps to a *ConflictError, so the HTTP layer answers 409 with "by".
type TakenError struct {
	Conflict ConflictError
}

func (e *TakenError) Error() string {
	return fmt.Sprintf("alert %d: cannot %s: %s is going (since %s)", e.Conflict.Alert, e.Conflict.Action, e.Conflict.By,
		e.Conflict.At.UTC().Format(time.RFC3339))
}

// Unwrap returns the conflict (errors.As finds *ConflictError, errors.Is ErrConflict).
func (e *TakenError) Unwrap() error { return &e.Conflict }

// TimelineEntry is one step of an alert's history as the detail shows it: raised,
// acknowledged, taken, released, enroute, arrived, overdue, escalated, resolved.
type TimelineEntry struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step"`
	By     string    `json:"by,omitempty"`     // who; "system" for the platform; "" for the alarm itself
	Detail string    `json:"detail,omitempty"` // the tier of an escalation, the outcome, whom a take-over replaced
}

// TakeDeadline is when an alert of priority prio taken at now must be "on my way": one
// escalation step (the priority's timeout), the same clock an unacknowledged alert runs on.
// False: the priority does not escalate.
func (p Policy) TakeDeadline(prio vagt.Priority, now time.Time) (time.Time, bool) {
	d := p.Escalate[prio]
	if d <= 0 {
		return time.Time{}, false
	}
	return now.Add(d), true
}

// ArrivalDeadline is when somebody must have arrived at an alert raised at raised that
// its assignee set out to at now: the municipality's promise (raised + ArriveWithin), but
// never sooner than one escalation step after setting out. False: the priority does not
// escalate.
func (p Policy) ArrivalDeadline(prio vagt.Priority, raised, now time.Time) (time.Time, bool) {
	step, ok := p.TakeDeadline(prio, now)
	if !ok {
		return time.Time{}, false
	}
	if p.ArriveWithin > 0 && raised.Add(p.ArriveWithin).After(step) {
		return raised.Add(p.ArriveWithin), true
	}
	return step, true
}
