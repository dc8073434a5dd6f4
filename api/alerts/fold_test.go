package alerts_test

import (
	"maps"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

var t0 = time.Date(2026, 12, 2, 21, 30, 0, 0, time.UTC)

func press() *vagt.Alarm {
	return &vagt.Alarm{Gateway: "gw-1", Seq: 500, Municipality: 766, Time: t0, Device: "0x0c", Type: vagt.AlarmPanic,
		Details: map[string]string{"button": "1"}}
}

func TestRedelivery(t *testing.T) {
	orig := press()
	digest := func(a *vagt.Alarm) string {
		d, err := alerts.Digest(a)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	seen := digest(orig)
	smoke := press()
	smoke.Type = vagt.AlarmSmoke
	otherDetails := press()
	otherDetails.Details = map[string]string{"button": "2"}
	otherTime := press()
	otherTime.Time = t0.Add(time.Millisecond)
	clear := press()
	clear.Clears = 499

	tests := []struct {
		name   string
		seen   string
		event  *vagt.Alarm
		replay bool // the event comes from the alarm history (ReplayAlarm)
		want   bool
	}{
		{"same content", seen, orig, false, true},
		{"another type under the seq", seen, smoke, false, false},
		{"other details under the seq", seen, otherDetails, false, false},
		{"another time under the seq", seen, otherTime, false, false},
		{"a clear under a raise's seq", seen, clear, false, false},
		{"receipt from before digests", "", smoke, false, true},
		{"a replay under a seq with a receipt", seen, smoke, true, true},
		{"the original after its replay", alerts.ReplayDigest(orig), orig, false, true},
		{"other details after a replay (the replay lacks them)", alerts.ReplayDigest(orig), otherDetails, false, true},
		{"another type after a replay", alerts.ReplayDigest(orig), smoke, false, false},
		{"a clear after a replayed raise", alerts.ReplayDigest(orig), clear, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := digest(tt.event)
			if tt.replay {
				d = alerts.ReplayDigest(tt.event)
			}
			if got := alerts.Redelivery(tt.seen, tt.event, d); got != tt.want {
				t.Errorf("Redelivery = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDigestIgnoresDetailOrder(t *testing.T) {
	a, b := press(), press()
	a.Details = map[string]string{"a": "1", "b": "2", "c": "3"}
	b.Details = maps.Clone(a.Details)
	da, _ := alerts.Digest(a)
	db, _ := alerts.Digest(b)
	if da != db || len(da) != 64 {
		t.Fatalf("digests %q, %q: want one SHA-256", da, db)
	}
	b.Details["c"] = "4"
	if db, _ = alerts.Digest(b); db == da {
		t.Fatal("a changed detail kept the digest")
	}
}

func TestReceivedTime(t *testing.T) {
	now := t0.Add(90*time.Second + 1234567)
	at, details := alerts.ReceivedTime(press(), now)
	if !at.Equal(t0) || details["gateway_time"] != "" {
		t.Errorf("synced clock: dated %s with %v, want the gateway's time %s", at, details, t0)
	}
	a := press()
	a.Details["clock"] = alerts.ClockUnsynced
	at, details = alerts.ReceivedTime(a, now)
	if want := now.Truncate(time.Millisecond); !at.Equal(want) {
		t.Errorf("unsynced clock: dated %s, want the receipt %s", at, want)
	}
	if details["gateway_time"] != t0.Format(time.RFC3339Nano) || details["button"] != "1" {
		t.Errorf("unsynced clock: details %v, want the gateway's time kept beside the rest", details)
	}
	if _, ok := a.Details["gateway_time"]; ok {
		t.Error("the alarm's own details were changed")
	}
}

func TestPriorityOf(t *testing.T) {
	tests := []struct {
		typ   vagt.AlarmType
		asked vagt.Priority
		want  vagt.Priority
	}{
		{vagt.AlarmDoorAtNight, 0, vagt.PriorityHigh},
		{vagt.AlarmDoorAtNight, vagt.PriorityCritical, vagt.PriorityCritical}, // raised above its default
		{vagt.AlarmPanic, vagt.PriorityTechnical, vagt.PriorityCritical},      // never below
		{vagt.AlarmLowBattery, vagt.PriorityHigh, vagt.PriorityHigh},
	}
	for _, tt := range tests {
		if got := alerts.PriorityOf(tt.typ, tt.asked); got != tt.want {
			t.Errorf("PriorityOf(%s, %d) = %d, want %d", tt.typ, tt.asked, got, tt.want)
		}
	}
}

func at(t time.Time) *time.Time { return &t }

func TestRearm(t *testing.T) {
	p := alerts.DefaultPolicy()
	now := t0.Add(10 * time.Minute)
	anna := &alerts.Assignee{ID: 7, Name: "anna"}
	acked := func(level int, prio vagt.Priority) alerts.Alert {
		return alerts.Alert{ID: 1, State: alerts.StateAcknowledged, Priority: prio, EscalationLevel: level, RaisedAt: t0,
			AckedAt: at(t0.Add(time.Minute)), AckedBy: "anna"}
	}
	taken := func(level int) alerts.Alert {
		a := acked(level, vagt.PriorityCritical)
		a.Assignee, a.TakenAt = anna, at(t0.Add(time.Minute))
		return a
	}
	arrived := taken(0)
	arrived.EnrouteAt, arrived.ArrivedAt = at(t0.Add(2*time.Minute)), at(t0.Add(9*time.Minute))
	open := acked(0, vagt.PriorityCritical)
	open.State = alerts.StateOpen
	resolved := acked(0, vagt.PriorityCritical)
	resolved.State = alerts.StateResolved
	noHigh := alerts.DefaultPolicy()
	delete(noHigh.Escalate, vagt.PriorityHigh)

	tests := []struct {
		name  string
		p     alerts.Policy
		a     alerts.Alert
		press bool
		rearm bool
		escAt *time.Time
	}{
		{"a press on an acknowledged alert", p, acked(0, vagt.PriorityCritical), true, true, at(now.Add(time.Minute))},
		{"high: its own step", p, acked(0, vagt.PriorityHigh), true, true, at(now.Add(5 * time.Minute))},
		{"at the backup: the clock restarts at its tier", p, acked(1, vagt.PriorityCritical), true, true, at(now.Add(time.Minute))},
		{"at the top, nobody assigned: no deadline", p, acked(2, vagt.PriorityCritical), true, true, nil},
		{"at the top, assignee not arrived: one step for them", p, taken(2), true, true, at(now.Add(time.Minute))},
		{"taken, not arrived", p, taken(0), true, true, at(now.Add(time.Minute))},
		{"after arrival it folds", p, arrived, true, false, nil},
		{"not a press (the platform's own raise)", p, acked(0, vagt.PriorityCritical), false, false, nil},
		{"technical alerts fold (a gateway offline again)", p, acked(0, vagt.PriorityTechnical), true, false, nil},
		{"an open alert folds", p, open, true, false, nil},
		{"a resolved alert is not re-armed", p, resolved, true, false, nil},
		{"a priority that does not escalate re-arms without a deadline", noHigh, acked(0, vagt.PriorityHigh), true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			escAt, ok := tt.p.Rearm(tt.a, tt.press, now)
			if ok != tt.rearm || !sameTime(escAt, tt.escAt) {
				t.Errorf("Rearm = %v, %v; want %v, %v", fmtTime(escAt), ok, fmtTime(tt.escAt), tt.rearm)
			}
		})
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.Format(time.RFC3339Nano)
}
