package sqlstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestRearmedTakenAlertCanBeTakenOver: anna takes an alert and goes silent (her phone lost
// its network); the citizen presses again, which opens the alert (rearm) with anna still
// its assignee, and nobody answers the press. The open clock moves it to the backup and to
// central; anna must then count as overdue, or nobody but her could ever take it (each
// take answers "anna is going") and the alert is stuck at the top tier with nobody on the way.
func TestRearmedTakenAlertCanBeTakenOver(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		clock := api.NewManualClock(t0)
		esc := &alerts.Escalator{Store: s, Clock: clock}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if _, err := s.Take(ctx, id, anna, w.northStaff, t0.Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(20 * time.Second)
		if r := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, at), at); r.Change != sqlstore.ChangeReraised {
			t.Fatalf("press on the taken alert: %s", r.Change)
		}
		// Nobody answers the press: backup after one step, central after another.
		for i := 0; i < 10; i++ {
			clock.Advance(30 * time.Second)
			if _, err := esc.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		a, err := s.Alert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Tier != alerts.TierCentral || a.Assignee == nil || a.Assignee.Name != "anna" || a.ArrivedAt != nil {
			t.Fatalf("after two unanswered steps: %+v", a)
		}
		if a.OverdueAt == nil {
			t.Errorf("anna missed two steps after the press and is not overdue: %+v", a)
		}
		central := api.Scope{Municipality: 766}
		got, err := s.Take(ctx, id, bo, central, clock.Now())
		if err != nil || got.Assignee == nil || got.Assignee.Name != "bo" {
			t.Fatalf("central cannot take over the alert anna went silent on: %v %+v", err, got)
		}
		d, err := s.AlertDetail(ctx, id, api.Scope{All: true}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(steps(d.Timeline), "overdue:system") {
			t.Errorf("the timeline does not say anna was overdue: %v", steps(d.Timeline))
		}
		var ce *alerts.ConflictError
		if _, err := s.Arrive(ctx, id, anna, w.northStaff, clock.Now()); !errors.As(err, &ce) || ce.By != "bo" {
			t.Fatalf("anna arrives after the take-over: %v", err)
		}
	})
}

// TestAckOfRearmedTakenAlertKeepsAssigneeClock: anna takes an alert and goes silent; the
// citizen presses again (rearm) and bo acknowledges the press. anna still holds the alert,
// so its clock must keep running for her: if she never says "on my way", it escalates and
// bo (or anyone) can take it over. Before, the acknowledgement cleared the deadline and the
// alert stayed with a silent anna for good, nobody else able to take it.
func TestAckOfRearmedTakenAlertKeepsAssigneeClock(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		clock := api.NewManualClock(t0)
		esc := &alerts.Escalator{Store: s, Clock: clock}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if _, err := s.Take(ctx, id, anna, w.northStaff, t0.Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(20 * time.Second)
		if r := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, at), at); r.Change != sqlstore.ChangeReraised {
			t.Fatalf("press on the taken alert: %s", r.Change)
		}
		clock.Advance(25 * time.Second)
		a, err := s.Ack(ctx, id, "bo", w.northStaff, clock.Now())
		if err != nil || a.Assignee == nil || a.Assignee.Name != "anna" {
			t.Fatalf("bo acknowledges the press: %v %+v", err, a)
		}
		if a.EscalateAt == nil {
			t.Errorf("acknowledged with anna still assigned, yet no deadline: %+v", a)
		}
		for i := 0; i < 10; i++ {
			clock.Advance(30 * time.Second)
			if _, err := esc.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if a, _ = s.Alert(ctx, id); a.OverdueAt == nil || a.Tier == alerts.TierDistrict {
			t.Errorf("anna silent for five minutes after the press was acknowledged: not overdue or not escalated: %+v", a)
		}
		if got, err := s.Take(ctx, id, bo, w.northStaff, clock.Now()); err != nil || got.Assignee == nil || got.Assignee.Name != "bo" {
			t.Fatalf("bo cannot take over from the silent anna: %v", err)
		}
	})
}

// TestRearmAtTheTopTierKeepsAssigneeClock: an alert that reached central unanswered is
// taken there by anna, who goes silent; the citizen presses again. At the top tier the
// open clock has no next step, so before, the re-armed alert had no deadline at all: anna
// was never overdue and nobody else could ever take it. Her clock must run on.
func TestRearmAtTheTopTierKeepsAssigneeClock(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		clock := api.NewManualClock(t0)
		esc := &alerts.Escalator{Store: s, Clock: clock}
		tick := func(d time.Duration) {
			t.Helper()
			clock.Advance(d)
			if _, err := esc.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		tick(61 * time.Second)
		tick(61 * time.Second)
		if a, _ := s.Alert(ctx, id); a.Tier != alerts.TierCentral {
			t.Fatalf("unanswered for two steps: %+v", a)
		}
		if _, err := s.Take(ctx, id, anna, w.northStaff, clock.Now()); err != nil {
			t.Fatal(err)
		}
		at := clock.Now().Add(10 * time.Second)
		if r := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, at), at); r.Change != sqlstore.ChangeReraised {
			t.Fatalf("press on the taken alert: %s", r.Change)
		}
		for i := 0; i < 10; i++ {
			tick(30 * time.Second)
		}
		a, err := s.Alert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.OverdueAt == nil || a.EscalationLevel != alerts.MaxLevel || a.Assignee == nil || a.Assignee.Name != "anna" {
			t.Errorf("anna silent for five minutes after the press at the top tier: %+v", a)
		}
		central := api.Scope{Municipality: 766}
		if got, err := s.Take(ctx, id, bo, central, clock.Now()); err != nil || got.Assignee == nil || got.Assignee.Name != "bo" {
			t.Fatalf("central cannot take over from the silent anna: %v", err)
		}
	})
}

// TestAssigneeAnswersThePress: a press re-arms the alert anna holds; anna answers it with
// the presence buttons she has ("I'll go" again, or "on my way" again while already on the
// way). That is her acknowledgement of the press: the alert is acknowledged by her and runs
// on her clock. Before, both were no-ops: the alert stayed open, rang on, and the open clock
// moved it to the backup a step later as if nobody had answered.
func TestAssigneeAnswersThePress(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		for i, answer := range []struct {
			name    string
			before  func(id int64, at time.Time) (alerts.Alert, error)
			respond func(id int64, at time.Time) (alerts.Alert, error)
		}{
			{"take", func(id int64, at time.Time) (alerts.Alert, error) { return s.Take(ctx, id, anna, w.northStaff, at) },
				func(id int64, at time.Time) (alerts.Alert, error) { return s.Take(ctx, id, anna, w.northStaff, at) }},
			{"enroute", func(id int64, at time.Time) (alerts.Alert, error) { return s.Enroute(ctx, id, anna, w.northStaff, at) },
				func(id int64, at time.Time) (alerts.Alert, error) { return s.Enroute(ctx, id, anna, w.northStaff, at) }},
		} {
			start := t0.Add(time.Duration(i) * time.Hour)
			id := ingest(t, s, alarm("gw-0042", uint64(10*i+1), "bu-17:btn", vagt.AlarmPanic, start), start).Alert.ID
			if _, err := answer.before(id, start.Add(10*time.Second)); err != nil {
				t.Fatal(err)
			}
			at := start.Add(20 * time.Second)
			if r := ingest(t, s, alarm("gw-0042", uint64(10*i+2), "bu-17:btn", vagt.AlarmPanic, at), at); r.Change != sqlstore.ChangeReraised {
				t.Fatalf("%s: press on the taken alert: %s", answer.name, r.Change)
			}
			a, err := answer.respond(id, at.Add(5*time.Second))
			if err != nil {
				t.Fatalf("%s: anna answers the press: %v", answer.name, err)
			}
			if a.State != alerts.StateAcknowledged || a.AckedBy != "anna" {
				t.Errorf("%s: anna answered the press, yet the alert is %s (acknowledged by %q)", answer.name, a.State, a.AckedBy)
			}
			// Past the press's open clock (+60 s), not her own step (+65 s).
			if _, err := s.EscalateDue(ctx, at.Add(62*time.Second)); err != nil {
				t.Fatal(err)
			}
			if a, _ = s.Alert(ctx, id); a.Tier != alerts.TierDistrict || a.OverdueAt != nil {
				t.Errorf("%s: anna answered the press and is on her clock, yet after the open clock's step: %+v", answer.name, a)
			}
			if _, err := s.Resolve(ctx, id, "anna", w.northStaff, alerts.OutcomeVisitedAllWell, "", at.Add(3*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestShiftThatCameOnIsToldLive: an alert raised at 21:50 reaches the day shift (dagmar);
// at 22:00 she goes home and the night shift comes on (nina, whose token is for the other
// district, so she sees the alert only as the shift on duty). EscalateUnheard brings the
// tier up to the night shift and, since nina listens, does not move the alert on. Nina
// counts as hearing it, so her stream must be told: an event whose audience reaches her.
// Before, the audience row was written without an event, so nina's console never showed
// the alert while she was counted as listening; it waited a full step.
func TestShiftThatCameOnIsToldLive(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north)
		nina := staffUser(t, s, "nina", w.south)
		shifts := []roster.Shift{
			{Kind: roster.Day, Weekdays: roster.Weekdays, Start: "07:00", End: "22:00", Staff: []string{"dagmar"}},
			{Kind: roster.Night, Weekdays: roster.Weekdays, Start: "22:00", End: "07:00", Staff: []string{"nina"}},
		}
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: shifts}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		day := time.Date(2026, 11, 23, 20, 50, 0, 0, time.UTC) // 21:50 in Copenhagen
		wall := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
		if err := s.BeatStreams(ctx, "a", map[string]int{"dagmar": 1}, wall); err != nil {
			t.Fatal(err)
		}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, day), day).Alert.ID
		evs, err := s.EventsAfter(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := evs[len(evs)-1].ID
		// 22:00:30: dagmar went home, nina came on and listens.
		later := day.Add(10*time.Minute + 30*time.Second)
		if err := s.BeatStreams(ctx, "a", map[string]int{"nina": 1}, wall.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.EscalateUnheard(ctx, later, wall.Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("the night shift listens: %d escalated (%v)", n, err)
		}
		evs, err = s.EventsAfter(ctx, seen, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(evs, func(ev alerts.Event) bool {
			return ev.Kind != alerts.EventLane && nina.Reaches(ev.Municipality, ev.District, ev.Audience) && ev.Data != nil
		}) {
			t.Fatalf("nina counts as hearing alert %d, yet no event reaches her stream: %+v", id, evs)
		}
		// Told once: the next look adds nobody and says nothing.
		last := evs[len(evs)-1].ID
		if n, err := s.EscalateUnheard(ctx, later.Add(time.Second), wall.Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("again: %d %v", n, err)
		}
		if more, _ := s.EventsAfter(ctx, last, 100); len(more) != 0 {
			t.Fatalf("told again: %+v", more)
		}
	})
}

// TestRearmedTakenAlertUnheardKeepsAssignee: anna (not on the roster) holds an alert; a
// press re-arms it and nobody on the shift or the backup listens, so it goes to central at
// once. anna has not had a step to answer the press, so she is not overdue yet (she may be
// at the door, and a take-over would refuse her "arrived"); a step later, unanswered, she is.
func TestRearmedTakenAlertUnheardKeepsAssignee(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north)
		staffUser(t, s, "nina", w.north)
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights([]string{"nina"}, roster.Backup{})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		wall := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if _, err := s.Take(ctx, id, anna, w.northStaff, t0.Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(20 * time.Second)
		if r := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, at), at); r.Change != sqlstore.ChangeReraised {
			t.Fatalf("press: %s", r.Change)
		}
		if n, err := s.EscalateUnheard(ctx, at.Add(time.Second), wall); err != nil || n != 2 {
			t.Fatalf("nobody listens: %d %v", n, err)
		}
		a, _ := s.Alert(ctx, id)
		if a.Tier != alerts.TierCentral || a.OverdueAt != nil || a.EscalateAt == nil {
			t.Fatalf("at central at once, anna not overdue yet, her step running: %+v", a)
		}
		if _, err := s.EscalateDue(ctx, a.EscalateAt.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if a, _ = s.Alert(ctx, id); a.OverdueAt == nil || a.Assignee == nil || a.Assignee.Name != "anna" {
			t.Fatalf("a step later, unanswered: %+v", a)
		}
		if got, err := s.Take(ctx, id, bo, api.Scope{Municipality: 766}, at.Add(5*time.Minute)); err != nil || got.Assignee.Name != "bo" {
			t.Fatalf("central takes over: %v", err)
		}
	})
}
