package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

var (
	anna = alerts.Assignee{ID: 11, Name: "anna"}
	bo   = alerts.Assignee{ID: 12, Name: "bo"}
)

func steps(tl []alerts.TimelineEntry) []string {
	var out []string
	for _, e := range tl {
		out = append(out, e.Step+":"+e.By)
	}
	return out
}

func auditActions(t *testing.T, s *sqlstore.Store, id int64) []string {
	t.Helper()
	log, err := s.AuditLog(t.Context(), api.Scope{All: true}, "alert/"+strconv.FormatInt(id, 10), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(log) - 1; i >= 0; i-- { // the log runs newest first
		out = append(out, log[i].Action+":"+log[i].Actor)
	}
	return out
}

// TestPresenceSteps walks an alert through take, on my way, arrived and resolve: the
// alert's fields and step, the timeline, the audit log and the stream events.
func TestPresenceSteps(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if _, err := s.Take(ctx, id, bo, w.southStaff, t0); !errors.Is(err, api.ErrForbidden) {
			t.Fatalf("another district takes: %v", err)
		}
		a, err := s.Take(ctx, id, anna, w.northStaff, t0.Add(20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if a.Step != alerts.StepTaken || a.State != alerts.StateAcknowledged || a.Assignee == nil || *a.Assignee != anna ||
			a.AckedBy != "anna" || !a.TakenAt.Equal(t0.Add(20*time.Second)) || !a.EscalateAt.Equal(t0.Add(80*time.Second)) {
			t.Fatalf("taken: %+v", a)
		}
		// Taking again is a no-op; the other gets 409 naming anna.
		if again, err := s.Take(ctx, id, anna, w.northStaff, t0.Add(21*time.Second)); err != nil || !again.TakenAt.Equal(*a.TakenAt) {
			t.Fatalf("take again: %v %+v", err, again)
		}
		for name, f := range map[string]func() (alerts.Alert, error){
			"take":    func() (alerts.Alert, error) { return s.Take(ctx, id, bo, w.northStaff, t0.Add(22*time.Second)) },
			"enroute": func() (alerts.Alert, error) { return s.Enroute(ctx, id, bo, w.northStaff, t0.Add(22*time.Second)) },
			"arrive":  func() (alerts.Alert, error) { return s.Arrive(ctx, id, bo, w.northStaff, t0.Add(22*time.Second)) },
			"release": func() (alerts.Alert, error) { return s.Release(ctx, id, bo, w.northStaff, t0.Add(22*time.Second)) },
		} {
			var te *alerts.TakenError
			var ce *alerts.ConflictError
			if _, err := f(); !errors.As(err, &te) || !errors.As(err, &ce) || ce.By != "anna" || !errors.Is(err, api.ErrConflict) {
				t.Fatalf("bo %s: %v", name, err)
			}
		}
		a, err = s.Enroute(ctx, id, anna, w.northStaff, t0.Add(time.Minute))
		// Arrival deadline: the 30 minutes promised from the alarm.
		if err != nil || a.Step != alerts.StepEnroute || !a.EnrouteAt.Equal(t0.Add(time.Minute)) || !a.EscalateAt.Equal(t0.Add(30*time.Minute)) {
			t.Fatalf("enroute: %v %+v", err, a)
		}
		a, err = s.Arrive(ctx, id, anna, w.northStaff, t0.Add(12*time.Minute))
		if err != nil || a.Step != alerts.StepArrived || !a.ArrivedAt.Equal(t0.Add(12*time.Minute)) || a.EscalateAt != nil {
			t.Fatalf("arrived: %v %+v", err, a)
		}
		if _, err := s.Release(ctx, id, anna, w.northStaff, t0.Add(13*time.Minute)); !errors.Is(err, api.ErrConflict) {
			t.Fatalf("release after arrival: %v", err)
		}
		// After arrival the outcome is required.
		if _, err := s.Resolve(ctx, id, "anna", w.northStaff, "", "", t0.Add(20*time.Minute)); !errors.Is(err, api.ErrInvalid) {
			t.Fatalf("resolve without outcome: %v", err)
		}
		a, err = s.Resolve(ctx, id, "anna", w.northStaff, alerts.OutcomeVisitedHelpGiven, "", t0.Add(20*time.Minute))
		if err != nil || a.Step != alerts.StepResolved || a.ArrivedAt == nil || a.Assignee == nil {
			t.Fatalf("resolved: %v %+v", err, a)
		}
		if _, err := s.Take(ctx, id, bo, w.northStaff, t0.Add(21*time.Minute)); !errors.Is(err, api.ErrConflict) {
			t.Fatalf("take a resolved alert: %v", err)
		}
		d, err := s.AlertDetail(ctx, id, api.Scope{All: true}, t0)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"raised:", "acknowledged:anna", "taken:anna", "enroute:anna", "arrived:anna", "resolved:anna"}
		if got := steps(d.Timeline); !slices.Equal(got, want) {
			t.Fatalf("timeline %v, want %v", got, want)
		}
		wantAudit := []string{"alert.take:anna", "alert.enroute:anna", "alert.arrive:anna", "alert.resolve:anna"}
		if got := auditActions(t, s, id); !slices.Equal(got, wantAudit) {
			t.Fatalf("audit %v, want %v", got, wantAudit)
		}
		evs, _ := s.EventsAfter(ctx, 0, 100)
		var kinds []alerts.EventKind
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
		}
		wantKinds := []alerts.EventKind{alerts.EventNew, alerts.EventTaken, alerts.EventEnroute, alerts.EventArrived, alerts.EventUpdated}
		if !slices.Equal(kinds, wantKinds) {
			t.Fatalf("events %v, want %v", kinds, wantKinds)
		}
	})
}

// TestTakeAndGoAndRelease: "on my way" by someone who has not taken it takes it in the
// same step; the assignee hands it back and it is open again, escalating on its clock.
func TestTakeAndGoAndRelease(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		a, err := s.Enroute(ctx, id, bo, w.northStaff, t0.Add(10*time.Second))
		if err != nil || a.Step != alerts.StepEnroute || a.Assignee.Name != "bo" || a.TakenAt == nil || a.EnrouteAt == nil {
			t.Fatalf("take and go: %v %+v", err, a)
		}
		if _, err := s.Release(ctx, id, anna, w.northStaff, t0.Add(20*time.Second)); !errors.Is(err, api.ErrConflict) {
			t.Fatalf("release by another: %v", err)
		}
		a, err = s.Release(ctx, id, bo, w.northStaff, t0.Add(30*time.Second))
		if err != nil || a.State != alerts.StateOpen || a.Step != alerts.StepOpen || a.Assignee != nil || a.AckedAt != nil ||
			!a.EscalateAt.Equal(t0.Add(90*time.Second)) {
			t.Fatalf("released: %v %+v", err, a)
		}
		// Nobody has it now: the conflict says so (it said "already open by  at 0001-01-01").
		if _, err := s.Release(ctx, id, bo, w.northStaff, t0.Add(31*time.Second)); !errors.Is(err, api.ErrConflict) ||
			!strings.Contains(err.Error(), "nobody has taken it") {
			t.Fatalf("release twice: %v", err)
		}
		// Open again: the usual escalation takes it to the backup.
		if n, err := s.EscalateDue(ctx, t0.Add(90*time.Second)); err != nil || n != 1 {
			t.Fatalf("escalate the released alert: %d %v", n, err)
		}
		if a, err = s.Take(ctx, id, anna, w.northStaff, t0.Add(100*time.Second)); err != nil || a.Assignee.Name != "anna" {
			t.Fatalf("anna takes it: %v %+v", err, a)
		}
		d, err := s.AlertDetail(ctx, id, api.Scope{All: true}, t0)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"raised:", "acknowledged:bo", "taken:bo", "enroute:bo", "released:bo", "escalated:system", "acknowledged:anna", "taken:anna"}
		if got := steps(d.Timeline); !slices.Equal(got, want) {
			t.Fatalf("timeline %v, want %v", got, want)
		}
	})
}

// TestTakeRace: two staff take the same alert at once, many times; exactly one wins and
// the other is told who.
func TestTakeRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		for round := range 8 {
			id := ingest(t, s, alarm("gw-0042", uint64(100+round), "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
			who := []alerts.Assignee{anna, bo}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					// Half the rounds race take against take-and-go.
					if round%2 == 1 && i == 1 {
						_, errs[i] = s.Enroute(context.Background(), id, who[i], w.northStaff, t0.Add(time.Second))
						return
					}
					_, errs[i] = s.Take(context.Background(), id, who[i], w.northStaff, t0.Add(time.Second))
				})
			}
			wg.Wait()
			var won, lost int
			for i, err := range errs {
				var ce *alerts.ConflictError
				switch {
				case err == nil:
					won++
				case errors.As(err, &ce) && ce.By == who[1-i].Name:
					lost++
				default:
					t.Fatalf("round %d %s: %v", round, who[i].Name, err)
				}
			}
			if won != 1 || lost != 1 {
				t.Fatalf("round %d: %d won, %d lost: %v", round, won, lost, errs)
			}
			if _, err := s.Resolve(t.Context(), id, "anna", w.northStaff, alerts.OutcomeFalseAlarm, "", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestSilentAssignee: a phone that lost its network after "I'll go" (or after "on my
// way"). The alert stays with its assignee and escalates on the usual clock; once overdue
// a colleague of the next tier may take it over; the assignee can still say "arrived".
func TestSilentAssignee(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		clock := api.NewManualClock(t0)
		esc := &alerts.Escalator{Store: s, Clock: clock}
		tick := func(d time.Duration, want int) {
			t.Helper()
			clock.Advance(d)
			if n, err := esc.Tick(ctx); err != nil || n != want {
				t.Fatalf("at +%s: %d changed (%v), want %d", clock.Now().Sub(t0), n, err, want)
			}
		}
		central := api.Scope{Municipality: 766}

		// Taken, never "on my way": one step (60 s for critical) later it escalates.
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if _, err := s.Take(ctx, id, anna, w.northStaff, t0.Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		tick(69*time.Second, 0)
		tick(time.Second, 1)
		tick(0, 0) // once
		a, _ := s.Alert(ctx, id)
		if a.Tier != alerts.TierBackup || a.Assignee == nil || a.Assignee.Name != "anna" || a.OverdueAt == nil ||
			a.State != alerts.StateAcknowledged || !a.EscalateAt.Equal(t0.Add(130*time.Second)) {
			t.Fatalf("after the missed step: %+v", a)
		}
		tick(60*time.Second, 1) // nobody took it over: central
		a, _ = s.Alert(ctx, id)
		if a.Tier != alerts.TierCentral || a.EscalateAt != nil || a.Assignee.Name != "anna" {
			t.Fatalf("at central: %+v", a)
		}
		tick(time.Hour, 0) // the top: nothing more to do
		// Overdue: central takes it over; anna, back online, is told who has it.
		a, err := s.Take(ctx, id, bo, central, clock.Now())
		if err != nil || a.Assignee.Name != "bo" || a.OverdueAt != nil || a.AckedBy != "anna" {
			t.Fatalf("take over: %v %+v", err, a)
		}
		var ce *alerts.ConflictError
		if _, err := s.Arrive(ctx, id, anna, w.northStaff, clock.Now()); !errors.As(err, &ce) || ce.By != "bo" {
			t.Fatalf("anna arrives after the take-over: %v", err)
		}
		d, _ := s.AlertDetail(ctx, id, api.Scope{All: true}, t0)
		if !slices.Contains(steps(d.Timeline), "overdue:system") || d.Timeline[len(d.Timeline)-1].Detail != "from anna" {
			t.Fatalf("timeline: %+v", d.Timeline)
		}
		if got := auditActions(t, s, id); !slices.Equal(got, []string{"alert.take:anna", "alert.overdue:system",
			"alert.escalate:system", "alert.escalate:system", "alert.take:bo"}) {
			t.Fatalf("audit: %v", got)
		}

		// bo goes silent too, at the top tier: a step later his take is overdue (anyone may
		// take it over), with nothing further to escalate to.
		tick(time.Minute, 1)
		if a, _ = s.Alert(ctx, id); a.Assignee.Name != "bo" || a.OverdueAt == nil || a.EscalateAt != nil || a.Tier != alerts.TierCentral {
			t.Fatalf("bo silent at the top tier: %+v", a)
		}

		// On the way, then silent: the deadline is the 30 minutes promised from the alarm.
		start := clock.Now()
		id2 := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmFall, start), start).Alert.ID
		if _, err := s.Enroute(ctx, id2, anna, w.northStaff, start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		tick(29*time.Minute+59*time.Second, 0)
		tick(time.Second, 1)
		a, _ = s.Alert(ctx, id2)
		if a.Tier != alerts.TierBackup || a.Assignee.Name != "anna" || a.OverdueAt == nil || a.Step != alerts.StepEnroute {
			t.Fatalf("on the way, overdue: %+v", a)
		}
		// The phone is back: anna arrives late; the escalation stops and nobody can take it.
		if a, err = s.Arrive(ctx, id2, anna, w.northStaff, clock.Now().Add(time.Minute)); err != nil || a.OverdueAt != nil || a.EscalateAt != nil {
			t.Fatalf("late arrival: %v %+v", err, a)
		}
		if _, err := s.Take(ctx, id2, bo, central, clock.Now()); !errors.As(err, &ce) || ce.By != "anna" {
			t.Fatalf("take over after arrival: %v", err)
		}
		tick(time.Hour, 0)
	})
}

// TestPresenceAnonymised: the keeping period strips who went, as it does who acknowledged.
func TestPresenceAnonymised(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if _, err := s.Arrive(ctx, id, anna, w.northStaff, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resolve(ctx, id, "anna", w.northStaff, alerts.OutcomeVisitedAllWell, "", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.AnonymiseAlerts(ctx, t0.Add(time.Hour), t0.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("anonymise: %d %v", n, err)
		}
		d, err := s.AlertDetail(ctx, id, api.Scope{All: true}, t0)
		if err != nil || d.Assignee == nil || d.Assignee.Name != "" || d.ArrivedAt == nil {
			t.Fatalf("%v %+v", err, d.Alert)
		}
		for _, e := range d.Timeline {
			if e.By == "anna" || e.Detail == "anna" {
				t.Fatalf("timeline keeps anna: %+v", d.Timeline)
			}
		}
	})
}

// TestSilentAssigneeEscalatedOnceByReplicas: two replicas (store handles on one database)
// run the escalator at the same instant; the silent assignee's alert moves one tier, once.
func TestSilentAssigneeEscalatedOnceByReplicas(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "vagt.db")
			if name == "postgres" {
				dsn = stacktest.SharedPostgres(t)
			}
			var reps []*sqlstore.Store
			for range 2 {
				s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				reps = append(reps, s)
			}
			w := setup(t, reps[0])
			ctx := t.Context()
			for round := range 5 {
				at := t0.Add(time.Duration(round) * time.Hour)
				id := ingest(t, reps[0], alarm("gw-0042", uint64(round+1), "bu-17:btn", vagt.AlarmPanic, at), at).Alert.ID
				if _, err := reps[1].Take(ctx, id, anna, w.northStaff, at); err != nil {
					t.Fatal(err)
				}
				counts := make([]int, 2)
				errs := make([]error, 2)
				var wg sync.WaitGroup
				for i := range 2 {
					wg.Go(func() { counts[i], errs[i] = reps[i].EscalateDue(context.Background(), at.Add(61*time.Second)) })
				}
				wg.Wait()
				if errs[0] != nil || errs[1] != nil || counts[0]+counts[1] != 1 {
					t.Fatalf("round %d: changed %v (%v), want 1 in all", round, counts, errs)
				}
				d, err := reps[0].AlertDetail(ctx, id, api.Scope{All: true}, t0)
				if err != nil || len(d.Escalations) != 1 || d.OverdueAt == nil || d.Assignee.Name != "anna" {
					t.Fatalf("round %d: %v %+v", round, err, d.Alert)
				}
				if _, err := reps[0].Resolve(ctx, id, "anna", w.northStaff, alerts.OutcomeFalseAlarm, "", at.Add(2*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestPressOnTakenAlert: a press on an alert someone took, before anyone arrived, raises it
// again (the citizen still needs help: reraised, the open clock runs again and reaches the
// next tier) while the assignee keeps it and can still say "on my way" and "arrived"; once
// someone has arrived, a press is folded as a repeat — staff are in the home.
func TestPressOnTakenAlert(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		r := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0)
		if _, err := s.Take(ctx, r.Alert.ID, anna, w.northStaff, t0.Add(20*time.Second)); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(2 * time.Minute)
		r2 := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, at), at)
		if r2.Change != sqlstore.ChangeReraised || r2.Alert.State != alerts.StateOpen || r2.Alert.Assignee == nil ||
			r2.Alert.Assignee.Name != "anna" || r2.Alert.EscalateAt == nil {
			t.Fatalf("press on a taken alert: %s %+v", r2.Change, r2.Alert)
		}
		var taken *alerts.TakenError
		if _, err := s.Take(ctx, r.Alert.ID, bo, w.northStaff, at.Add(time.Second)); !errors.As(err, &taken) {
			t.Fatalf("bo taking anna's alert after the press: %v, want that anna is going", err)
		}
		if n, err := s.EscalateDue(ctx, r2.Alert.EscalateAt.Add(time.Second)); err != nil || n == 0 {
			t.Fatalf("the open clock after the press did not escalate: %d %v", n, err)
		}
		if _, err := s.Enroute(ctx, r.Alert.ID, anna, w.northStaff, at.Add(90*time.Second)); err != nil {
			t.Fatalf("on my way after the press: %v", err)
		}
		if _, err := s.Arrive(ctx, r.Alert.ID, anna, w.northStaff, at.Add(10*time.Minute)); err != nil {
			t.Fatalf("arrived after the press: %v", err)
		}
		at3 := at.Add(11 * time.Minute)
		r3 := ingest(t, s, alarm("gw-0042", 3, "bu-17:btn", vagt.AlarmPanic, at3), at3)
		if r3.Change != sqlstore.ChangeRepeated || r3.Alert.ArrivedAt == nil {
			t.Fatalf("press after arrival: %s %+v", r3.Change, r3.Alert)
		}
	})
}
