package sqlstore_test

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

func TestEscalation(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		clock := api.NewManualClock(t0)
		esc := &alerts.Escalator{Store: s, Clock: clock}
		panic := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert
		door := ingest(t, s, alarm("gw-0042", 2, "door", vagt.AlarmDoorAtNight, t0), t0).Alert
		if panic.EscalateAt == nil || !panic.EscalateAt.Equal(t0.Add(60*time.Second)) || panic.Tier != alerts.TierDistrict {
			t.Fatalf("deadline %+v", panic)
		}
		step := func(d time.Duration, want int) {
			t.Helper()
			clock.Advance(d)
			n, err := esc.Tick(ctx)
			if err != nil || n != want {
				t.Fatalf("at +%s: escalated %d (%v), want %d", clock.Now().Sub(t0), n, err, want)
			}
		}
		step(59*time.Second, 0)
		step(time.Second, 1) // critical: 60 s → backup
		step(0, 0)           // each step once
		step(60*time.Second, 1)
		step(time.Hour, 1) // the door alarm (high, 5 min) goes to the backup; the panic is at the top
		a, err := s.Alert(ctx, panic.ID)
		if err != nil || a.EscalationLevel != 2 || a.Tier != alerts.TierCentral || a.EscalateAt != nil {
			t.Fatalf("panic after escalation: %v %+v", err, a)
		}
		// Acknowledging stops it.
		if _, err := s.Ack(ctx, door.ID, "anna", w.northStaff, clock.Now()); err != nil {
			t.Fatal(err)
		}
		step(time.Hour, 0)
		d, err := s.AlertDetail(ctx, panic.ID, api.Scope{All: true}, t0)
		if err != nil || len(d.Escalations) != 2 || d.Escalations[0].Tier != alerts.TierBackup || d.Escalations[1].Tier != alerts.TierCentral {
			t.Fatalf("escalation record: %v %+v", err, d.Escalations)
		}
		evs, _ := s.EventsAfter(ctx, 0, 100)
		var escalated int
		for _, e := range evs {
			if e.Kind == alerts.EventEscalated {
				escalated++
			}
		}
		if escalated != 3 {
			t.Fatalf("%d escalated events, want 3", escalated)
		}
	})
}

// TestEscalationSurvivesRestart: the deadline is in the database, not in a timer.
func TestEscalationSurvivesRestart(t *testing.T) {
	dsn := t.TempDir() + "/vagt.db"
	s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0)
	s.Close()
	s, err = sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.EscalateDue(t.Context(), t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("after restart: %d %v", n, err)
	}
}

func status(gw vagt.GatewayID, online bool, at time.Time) *vagt.Status {
	return &vagt.Status{Gateway: gw, Online: online, Time: at, Heartbeat: 60 * time.Second, Municipality: 766}
}

func TestOfflineDetection(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		setup(t, s)
		ctx := t.Context()
		clock := api.NewManualClock(t0)
		det := &alerts.OfflineDetector{Store: s, Clock: clock}
		record := func(online bool) {
			t.Helper()
			if err := s.RecordStatus(ctx, status("gw-0042", online, clock.Now()), clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		tick := func(want int) {
			t.Helper()
			if n, err := det.Tick(ctx); err != nil || n != want {
				t.Fatalf("at +%s: %d changes (%v), want %d", clock.Now().Sub(t0), n, err, want)
			}
		}
		offline := func() []alerts.Alert {
			t.Helper()
			all, err := s.ListAlerts(ctx, api.Scope{All: true}, alerts.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []alerts.Alert
			for _, a := range all {
				if a.Type == vagt.AlarmGatewayOffline {
					out = append(out, a)
				}
			}
			return out
		}
		record(true)
		clock.Advance(3 * time.Minute) // heartbeats missed, but within interval × 3 + grace
		tick(0)
		record(false) // the will
		clock.Advance(time.Minute)
		tick(0) // within the grace period: a blip raises nothing
		clock.Advance(time.Minute)
		tick(1)
		al := offline()
		if len(al) != 1 || al[0].State != alerts.StateOpen || al[0].Priority != vagt.PriorityTechnical || !al[0].Registered {
			t.Fatalf("offline alert: %+v", al)
		}
		tick(0)
		// Flapping: back, gone, back — one alert, counted.
		for range 3 {
			clock.Advance(time.Minute)
			record(true)
			clock.Advance(time.Minute)
			record(false)
			clock.Advance(3 * time.Minute)
			tick(1)
		}
		if al := offline(); len(al) != 1 || al[0].Count != 4 {
			t.Fatalf("flapping: %+v", al)
		}
		// Back for good: cleared, then resolved by itself with a record.
		record(true)
		if al := offline(); al[0].ClearedAt == nil || al[0].State != alerts.StateOpen {
			t.Fatalf("back: %+v", al)
		}
		clock.Advance(4 * time.Minute)
		record(true)
		tick(0)
		clock.Advance(time.Minute)
		record(true)
		tick(1)
		al = offline()
		if al[0].State != alerts.StateResolved || al[0].ResolvedBy != api.System || al[0].Outcome != alerts.OutcomeTechnicalFault {
			t.Fatalf("resolved: %+v", al)
		}
		if d, _ := s.AlertDetail(ctx, al[0].ID, api.Scope{All: true}, t0); len(d.Notes) != 1 {
			t.Fatalf("no record of the resolve: %+v", d.Notes)
		}
		// Heartbeats stopping without a will: interval × factor + grace.
		clock.Advance(3*time.Minute + 2*time.Minute - time.Second)
		tick(0)
		clock.Advance(time.Second)
		tick(1)
		if al := offline(); len(al) != 2 {
			t.Fatalf("silent gateway: %+v", al)
		}
	})
}
