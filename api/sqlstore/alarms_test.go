package sqlstore_test

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// A gateway that lost its spool (or booted at 1970) may send a new alarm under a seq it
// used before. Different content under a seen (gateway, seq) is not a redelivery: it
// becomes its own alert, and a redelivery of either is a no-op.
func TestSeqReusedWithDifferentPayload(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		setup(t, s)
		panic := ingest(t, s, alarm("gw-x", 500, "bu-1:btn", vagt.AlarmPanic, t0), t0)
		if panic.Change != sqlstore.ChangeRaised || panic.SeqReused {
			t.Fatalf("panic: %+v", panic)
		}
		smoke := ingest(t, s, alarm("gw-x", 500, "smoke-1", vagt.AlarmSmoke, t0.Add(time.Minute)), t0.Add(time.Minute))
		if smoke.Change != sqlstore.ChangeRaised || smoke.Alert.ID == panic.Alert.ID || smoke.Alert.Type != vagt.AlarmSmoke {
			t.Fatalf("smoke under a reused seq: %+v", smoke)
		}
		if !smoke.SeqReused {
			t.Fatalf("smoke under a reused seq not flagged: %+v", smoke)
		}
		// Redeliveries of either change nothing.
		for _, c := range []struct {
			name string
			a    *vagt.Alarm
			id   int64
		}{
			{"panic again", alarm("gw-x", 500, "bu-1:btn", vagt.AlarmPanic, t0), panic.Alert.ID},
			{"smoke again", alarm("gw-x", 500, "smoke-1", vagt.AlarmSmoke, t0.Add(time.Minute)), smoke.Alert.ID},
		} {
			r := ingest(t, s, c.a, t0.Add(2*time.Minute))
			if r.Change != sqlstore.ChangeDuplicate || r.Alert.ID != c.id || r.Alert.Count != 1 {
				t.Fatalf("%s: %+v", c.name, r)
			}
		}
		// A third content under the same seq is its own alert too.
		water := ingest(t, s, alarm("gw-x", 500, "leak-1", vagt.AlarmWaterLeak, t0.Add(3*time.Minute)), t0.Add(3*time.Minute))
		if water.Change != sqlstore.ChangeRaised || !water.SeqReused || water.Alert.ID == smoke.Alert.ID || water.Alert.ID == panic.Alert.ID {
			t.Fatalf("water under a reused seq: %+v", water)
		}
	})
}

// A gateway whose clock cannot be trusted (a Raspberry Pi booted at 1970 without NTP) marks
// its alarm "clock": "unsynced": the alert is dated and ordered by when the platform
// received it, and the gateway's time stays visible in its details.
func TestUnsyncedClockDatedByReceipt(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		setup(t, s)
		earlier := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmFall, t0), t0)
		epoch := time.Date(1970, 1, 1, 0, 3, 0, 0, time.UTC)
		a := alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, epoch)
		a.Details = map[string]string{"clock": "unsynced"}
		recv := t0.Add(time.Minute)
		r := ingest(t, s, a, recv)
		if r.Change != sqlstore.ChangeRaised || !r.Alert.RaisedAt.Equal(recv) || !r.Alert.LastAt.Equal(recv) {
			t.Fatalf("unsynced alarm not dated by receipt: %+v", r.Alert)
		}
		if r.Alert.Details["clock"] != "unsynced" || r.Alert.Details["gateway_time"] != "1970-01-01T00:03:00Z" {
			t.Fatalf("gateway's time not kept: %v", r.Alert.Details)
		}
		if !r.Alert.RaisedAt.After(earlier.Alert.RaisedAt) {
			t.Fatalf("ordered before an alarm received earlier: %v vs %v", r.Alert.RaisedAt, earlier.Alert.RaisedAt)
		}
		// A repeat from the same unsynced gateway folds in at its receipt time too.
		a2 := alarm("gw-0042", 3, "bu-17:btn", vagt.AlarmPanic, epoch.Add(time.Second))
		a2.Details = map[string]string{"clock": "unsynced"}
		r = ingest(t, s, a2, recv.Add(time.Minute))
		if r.Change != sqlstore.ChangeRepeated || !r.Alert.LastAt.Equal(recv.Add(time.Minute)) {
			t.Fatalf("repeat: %+v", r.Alert)
		}
		// Redelivery: same content, same digest, nothing changes.
		if r := ingest(t, s, a, recv.Add(2*time.Minute)); r.Change != sqlstore.ChangeDuplicate || r.SeqReused {
			t.Fatalf("redelivery: %+v", r)
		}
	})
}

// The digest takes any alarm (priority 0 included: the type's default applies) and tells
// every field apart, details too.
func TestAlarmDigest(t *testing.T) {
	base := func() *vagt.Alarm {
		a := alarm("gw-x", 500, "bu-1:btn", vagt.AlarmPanic, t0)
		a.Priority = 0
		a.Details = map[string]string{"a": "1", "b": "2"}
		return a
	}
	d0, err := sqlstore.AlarmDigest(base())
	if err != nil {
		t.Fatal(err)
	}
	same := base()
	same.Time = same.Time.In(time.FixedZone("CET", 3600))
	same.Details = map[string]string{"b": "2", "a": "1"}
	if d, _ := sqlstore.AlarmDigest(same); d != d0 {
		t.Fatal("the same alarm has another digest")
	}
	for name, change := range map[string]func(a *vagt.Alarm){
		"device":     func(a *vagt.Alarm) { a.Device = "smoke-1" },
		"type":       func(a *vagt.Alarm) { a.Type = vagt.AlarmSmoke },
		"time":       func(a *vagt.Alarm) { a.Time = a.Time.Add(time.Millisecond) },
		"priority":   func(a *vagt.Alarm) { a.Priority = vagt.PriorityHigh },
		"clears":     func(a *vagt.Alarm) { a.Clears = 1 },
		"details":    func(a *vagt.Alarm) { a.Details["a"] = "1 b=2" },
		"no details": func(a *vagt.Alarm) { a.Details = nil },
	} {
		a := base()
		change(a)
		if d, _ := sqlstore.AlarmDigest(a); d == d0 {
			t.Errorf("%s: same digest", name)
		}
	}
}

// TestReplayAlarm: after a restore, alarm events rebuilt from the alarm history are filed
// once: one the store has a receipt for is a duplicate whatever its content (the history
// keeps no details), one it has not becomes an alert, and the broker's later redelivery of
// the original, details and all, is a duplicate too, not a "reused seq".
func TestReplayAlarm(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		setup(t, s)
		ctx := t.Context()
		withDetails := alarm("gw-0042", 7001, "bu-17:btn", vagt.AlarmPanic, t0)
		withDetails.Details = map[string]string{"room": "bathroom"}
		first := ingest(t, s, withDetails, t0)
		bare := alarm("gw-0042", 7001, "bu-17:btn", vagt.AlarmPanic, t0)
		r, err := s.ReplayAlarm(ctx, bare, t0.Add(time.Minute))
		if err != nil || r.Change != sqlstore.ChangeDuplicate || r.SeqReused || r.Alert.ID != first.Alert.ID {
			t.Fatalf("replay of a filed event: %+v %v", r, err)
		}
		missing := alarm("gw-0042", 7002, "bu-17:smoke", vagt.AlarmSmoke, t0.Add(2*time.Second))
		r, err = s.ReplayAlarm(ctx, missing, t0.Add(time.Minute))
		if err != nil || r.Change != sqlstore.ChangeRaised || r.Alert.Type != vagt.AlarmSmoke {
			t.Fatalf("replay of an event the store lost: %+v %v", r, err)
		}
		original := alarm("gw-0042", 7002, "bu-17:smoke", vagt.AlarmSmoke, t0.Add(2*time.Second))
		original.Details = map[string]string{"room": "kitchen"}
		if again := ingest(t, s, original, t0.Add(2*time.Minute)); again.Change != sqlstore.ChangeDuplicate || again.SeqReused || again.Alert.ID != r.Alert.ID {
			t.Fatalf("the original after its replay: %+v", again)
		}
		list, err := s.ListAlerts(ctx, api.Scope{All: true}, alerts.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("%d alerts after the replay, want 2 (panic, smoke)", len(list))
		}
	})
}

// A clear names the seq of the raise it ends. After a gateway reused a seq, that seq's
// receipt holds the first raise's alert: the clear of the second must not mark the first,
// another device's alert (a panic shown as cleared while nobody came), but the alert of
// its own device and type.
func TestClearOfAReusedSeq(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		setup(t, s)
		panic := ingest(t, s, alarm("gw-x", 500, "bu-1:btn", vagt.AlarmPanic, t0), t0)
		smoke := ingest(t, s, alarm("gw-x", 500, "smoke-1", vagt.AlarmSmoke, t0.Add(time.Minute)), t0.Add(time.Minute))
		if !smoke.SeqReused || smoke.Alert.ID == panic.Alert.ID {
			t.Fatalf("smoke under a reused seq: %+v", smoke)
		}
		clear := alarm("gw-x", 501, "smoke-1", vagt.AlarmSmoke, t0.Add(2*time.Minute))
		clear.Clears = 500
		r := ingest(t, s, clear, t0.Add(2*time.Minute))
		if r.Change != sqlstore.ChangeCleared || r.Alert.ID != smoke.Alert.ID {
			t.Errorf("the smoke alarm's clear: %v on alert %d (%v); want cleared on the smoke alert %d", r.Change, r.Alert.ID, r.Alert.Type, smoke.Alert.ID)
		}
		p, err := s.Alert(t.Context(), panic.Alert.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.ClearedAt != nil {
			t.Errorf("the panic alert was marked cleared by the smoke alarm's clear: %+v", p)
		}
	})
}

// After a restore, a replayed event's receipt keeps no digest (the history has no
// details). A later alarm under that seq with other content (a gateway that lost its spool
// and counts again) is a new alarm, not a redelivery: it was swallowed as a duplicate.
// The original's redelivery, details included, is still a duplicate.
func TestReuseAfterReplay(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		setup(t, s)
		ctx := t.Context()
		replayed := alarm("gw-0042", 7002, "bu-17:smoke", vagt.AlarmSmoke, t0)
		r, err := s.ReplayAlarm(ctx, replayed, t0.Add(time.Minute))
		if err != nil || r.Change != sqlstore.ChangeRaised {
			t.Fatalf("replay: %+v %v", r, err)
		}
		original := alarm("gw-0042", 7002, "bu-17:smoke", vagt.AlarmSmoke, t0)
		original.Details = map[string]string{"room": "kitchen"}
		if again := ingest(t, s, original, t0.Add(2*time.Minute)); again.Change != sqlstore.ChangeDuplicate || again.SeqReused {
			t.Fatalf("the original after its replay: %+v", again)
		}
		fall := alarm("gw-0042", 7002, "bu-17:btn", vagt.AlarmFall, t0.Add(time.Hour))
		f := ingest(t, s, fall, t0.Add(time.Hour))
		if f.Change != sqlstore.ChangeRaised || !f.SeqReused || f.Alert.Type != vagt.AlarmFall {
			t.Fatalf("a fall under the replayed seq: %+v; want its own alert, flagged", f)
		}
		if again := ingest(t, s, fall, t0.Add(time.Hour+time.Minute)); again.Change != sqlstore.ChangeDuplicate || again.Alert.ID != f.Alert.ID {
			t.Fatalf("the fall's redelivery: %+v", again)
		}
	})
}
