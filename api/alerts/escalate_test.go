package alerts_test

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

func TestNextMove(t *testing.T) {
	p := alerts.DefaultPolicy() // critical: 60 s a step
	now := t0.Add(5 * time.Minute)
	step := now.Add(time.Minute)
	anna := &alerts.Assignee{ID: 7, Name: "anna"}
	open := func(level int) alerts.Alert {
		return alerts.Alert{ID: 1, State: alerts.StateOpen, Priority: vagt.PriorityCritical, EscalationLevel: level, RaisedAt: t0}
	}
	rearmed := func(level int) alerts.Alert { // a press opened a taken alert again
		a := open(level)
		a.Assignee, a.TakenAt = anna, at(t0.Add(time.Minute))
		return a
	}
	rearmedOverdue := rearmed(1)
	rearmedOverdue.OverdueAt = at(t0.Add(3 * time.Minute))
	rearmedArrived := rearmed(0)
	rearmedArrived.ArrivedAt = at(t0.Add(4 * time.Minute))
	taken := func(level int) alerts.Alert {
		a := rearmed(level)
		a.State, a.AckedAt, a.AckedBy = alerts.StateAcknowledged, a.TakenAt, "anna"
		return a
	}
	takenArrived := taken(0)
	takenArrived.ArrivedAt = at(t0.Add(4 * time.Minute))
	acked := open(0)
	acked.State, acked.AckedAt, acked.AckedBy = alerts.StateAcknowledged, at(t0.Add(time.Minute)), "bo"
	resolved := taken(0)
	resolved.State = alerts.StateResolved
	high := open(0)
	high.Priority = vagt.PriorityHigh

	tests := []struct {
		name    string
		a       alerts.Alert
		unheard bool
		ok      bool
		want    alerts.Move
	}{
		// Nobody acknowledged it: one tier up, the next tier's deadline.
		{"open, district → backup", open(0), false, true, alerts.Move{Level: 1, EscalateAt: &step}},
		{"open, high: its own step", high, false, true, alerts.Move{Level: 1, EscalateAt: at(now.Add(5 * time.Minute))}},
		{"open, backup → central: the top has no deadline", open(1), false, true, alerts.Move{Level: 2}},
		{"open at the top, nobody assigned: the deadline goes", open(2), false, true, alerts.Move{Level: 2}},
		{"unheard, district → backup", open(0), true, true, alerts.Move{Level: 1, EscalateAt: &step}},
		{"unheard at the top: nobody above", open(2), true, false, alerts.Move{}},
		// A press re-armed a taken alert.
		{"re-armed, unanswered: up, assignee overdue", rearmed(0), false, true, alerts.Move{Level: 1, EscalateAt: &step, Overdue: true}},
		{"re-armed, unanswered to the top: overdue, no deadline", rearmed(1), false, true, alerts.Move{Level: 2, Overdue: true}},
		{"re-armed, unheard to the top: not overdue, keeps a step", rearmed(1), true, true, alerts.Move{Level: 2, EscalateAt: &step}},
		{"re-armed, unheard, already overdue: no step", rearmedOverdue, true, true, alerts.Move{Level: 2}},
		{"re-armed at the top, unanswered: only overdue", rearmed(2), false, true, alerts.Move{Level: 2, Overdue: true}},
		{"open, arrived (re-armed before arriving): not overdue", rearmedArrived, false, true, alerts.Move{Level: 1, EscalateAt: &step}},
		// Taken, the assignee missed "on my way" or "arrived".
		{"taken, silent: up, overdue, one step", taken(0), false, true, alerts.Move{Level: 1, EscalateAt: &step, Overdue: true}},
		{"taken, silent at the backup: central, no deadline", taken(1), false, true, alerts.Move{Level: 2, Overdue: true}},
		{"taken, silent at the top: only overdue", taken(2), false, true, alerts.Move{Level: 2, Overdue: true}},
		{"taken and arrived: nothing", takenArrived, false, false, alerts.Move{}},
		{"acknowledged, nobody took it: nothing", acked, false, false, alerts.Move{}},
		{"taken: listening does not apply", taken(0), true, false, alerts.Move{}},
		{"resolved: nothing", resolved, false, false, alerts.Move{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := p.NextMove(tt.a, tt.unheard, now)
			if ok != tt.ok || m.Level != tt.want.Level || m.Overdue != tt.want.Overdue || !sameTime(m.EscalateAt, tt.want.EscalateAt) {
				t.Errorf("NextMove = {level %d, at %s, overdue %v}, %v; want {level %d, at %s, overdue %v}, %v",
					m.Level, fmtTime(m.EscalateAt), m.Overdue, ok, tt.want.Level, fmtTime(tt.want.EscalateAt), tt.want.Overdue, tt.ok)
			}
			if ok && m.Escalated(tt.a.EscalationLevel) != (tt.a.EscalationLevel < alerts.MaxLevel) {
				t.Errorf("Escalated(%d) = %v with level %d", tt.a.EscalationLevel, m.Escalated(tt.a.EscalationLevel), m.Level)
			}
		})
	}
}

func TestNextMoveWithoutTimeout(t *testing.T) {
	p := alerts.DefaultPolicy()
	delete(p.Escalate, vagt.PriorityCritical)
	a := alerts.Alert{State: alerts.StateAcknowledged, Priority: vagt.PriorityCritical, Assignee: &alerts.Assignee{Name: "anna"}}
	m, ok := p.NextMove(a, false, t0)
	if !ok || m.Level != 1 || m.EscalateAt != nil || !m.Overdue {
		t.Errorf("NextMove = %+v, %v; want level 1, overdue, no deadline", m, ok)
	}
}

// The deadlines are instants: the store moves an alert when escalate_at <= now, so the
// instant itself is due.
func TestDeadlineInstants(t *testing.T) {
	p := alerts.DefaultPolicy() // critical: 60 s; arrival promised 30 min after the alarm
	if at, ok := p.NextEscalation(vagt.PriorityCritical, 0, t0); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextEscalation = %s, %v", at, ok)
	}
	if _, ok := p.NextEscalation(vagt.PriorityCritical, alerts.MaxLevel, t0); ok {
		t.Error("NextEscalation at the top tier gave a deadline")
	}
	tests := []struct {
		name   string
		setOut time.Time
		want   time.Time
	}{
		{"early: the promise", t0.Add(time.Minute), t0.Add(30 * time.Minute)},
		{"the promise one step after setting out: either", t0.Add(29 * time.Minute), t0.Add(30 * time.Minute)},
		{"a millisecond later: the step", t0.Add(29*time.Minute + time.Millisecond), t0.Add(30*time.Minute + time.Millisecond)},
		{"past the promise: the step", t0.Add(40 * time.Minute), t0.Add(41 * time.Minute)},
	}
	for _, tt := range tests {
		if at, ok := p.ArrivalDeadline(vagt.PriorityCritical, t0, tt.setOut); !ok || !at.Equal(tt.want) {
			t.Errorf("%s: ArrivalDeadline = %s, %v; want %s", tt.name, at, ok, tt.want)
		}
	}
}

func TestAssigneeDeadline(t *testing.T) {
	p := alerts.DefaultPolicy()
	now := t0.Add(2 * time.Minute)
	anna := &alerts.Assignee{Name: "anna"}
	base := alerts.Alert{State: alerts.StateOpen, Priority: vagt.PriorityCritical, RaisedAt: t0}
	withAssignee := base
	withAssignee.Assignee = anna
	enroute := withAssignee
	enroute.EnrouteAt = at(t0.Add(time.Minute))
	arrived := enroute
	arrived.ArrivedAt = at(now)
	technical := withAssignee
	technical.Priority = vagt.PriorityTechnical
	noTechnical := alerts.DefaultPolicy()
	delete(noTechnical.Escalate, vagt.PriorityTechnical)

	tests := []struct {
		name string
		p    alerts.Policy
		a    alerts.Alert
		want *time.Time
	}{
		{"nobody assigned", p, base, nil},
		{"taken: one step to set out", p, withAssignee, at(now.Add(time.Minute))},
		{"on the way: the promise", p, enroute, at(t0.Add(30 * time.Minute))},
		{"arrived: none", p, arrived, nil},
		{"technical: its step", p, technical, at(now.Add(30 * time.Minute))},
		{"a priority that does not escalate", noTechnical, technical, nil},
	}
	for _, tt := range tests {
		if got := tt.p.AssigneeDeadline(tt.a, now); !sameTime(got, tt.want) {
			t.Errorf("%s: AssigneeDeadline = %s, want %s", tt.name, fmtTime(got), fmtTime(tt.want))
		}
	}
}
