package downlink

import (
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// helpNow is what the home should know of a now, and since when: received while open,
// acknowledged once somebody acknowledged or took it, on the way, arrived, resolved
// (docs/alerts.md, "Presence"). A hand-back is not told: the wire's states only move
// forward, and the home already heard that help was coming.
func helpNow(a alerts.Alert) (vagt.HelpState, time.Time) {
	switch a.Step {
	case alerts.StepResolved:
		return vagt.HelpResolved, deref(a.ResolvedAt, a.LastAt)
	case alerts.StepArrived:
		return vagt.HelpArrived, deref(a.ArrivedAt, a.LastAt)
	case alerts.StepEnroute:
		return vagt.HelpOnTheWay, deref(a.EnrouteAt, a.LastAt)
	}
	// An alert from an older replica's event has no step: its state says as much.
	switch a.State {
	case alerts.StateResolved:
		return vagt.HelpResolved, deref(a.ResolvedAt, a.LastAt)
	case alerts.StateAcknowledged:
		return vagt.HelpAcknowledged, deref(a.AckedAt, a.LastAt)
	}
	return vagt.HelpReceived, a.LastAt
}

func deref(t *time.Time, or time.Time) time.Time {
	if t == nil {
		return or
	}
	return *t
}
