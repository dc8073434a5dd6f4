package sqlstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// staffUser makes a staff user of Hedensted scoped to districts and returns the scope its
// token gets.
func staffUser(t *testing.T, s *sqlstore.Store, name string, districts ...int64) api.Scope {
	t.Helper()
	p := api.Principal{Name: name, Role: api.RoleStaff, Municipality: 766, Districts: districts}
	_, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.IssueToken(t.Context(), p, hash, nil, t0); err != nil {
		t.Fatal(err)
	}
	scope, _ := p.AlertScope()
	return scope
}

// nights is a roster whose night shift (22:00–07:00, every day) covers t0 (04:12 in
// Copenhagen) with staff and backup.
func nights(staff []string, backup roster.Backup) []roster.Shift {
	return []roster.Shift{
		{Kind: roster.Day, Weekdays: roster.Weekdays, Start: "07:00", End: "22:00", Staff: []string{"dagmar"}},
		{Kind: roster.Night, Weekdays: roster.Weekdays, Start: "22:00", End: "07:00", Staff: staff, Backup: backup},
	}
}

func listIDs(t *testing.T, s *sqlstore.Store, scope api.Scope) []int64 {
	t.Helper()
	list, err := s.ListAlerts(t.Context(), scope, alerts.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	return ids
}

func TestRosterSaveValidates(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north)
		staffUser(t, s, "nina", w.north)
		bad := []roster.Shift{
			{Kind: roster.Day, Weekdays: roster.Weekdays, Start: "07:00", End: "15:00", Staff: []string{"dagmar"}},
			{Kind: roster.Evening, Weekdays: roster.Weekdays, Start: "14:00", End: "22:00"}, // overlaps
			{Kind: roster.Night, Weekdays: roster.Weekdays, Start: "23:00", End: "23:00"},   // empty
		}
		_, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: bad}, "lead", t0)
		var ve api.FieldErrors
		if !errors.Is(err, api.ErrInvalid) || !errors.As(err, &ve) || len(ve) != 2 ||
			ve[0].Field != "shifts[2].end" || ve[1].Field != "shifts[1]" {
			t.Fatalf("overlapping and empty shifts: %v", err)
		}
		// An unknown person and a backup team of another municipality: every field named.
		other, err := s.CreateDistrict(ctx, 101, "Indre By")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights([]string{"nina", "nobody"}, roster.Backup{District: other})}, "lead", t0)
		if !errors.As(err, &ve) || len(ve) != 2 || ve[0].Field != "shifts[1].staff[1]" || ve[1].Field != "shifts[1].backup.district" {
			t.Fatalf("unknown user, foreign team: %v", err)
		}
		r, err := s.Roster(ctx, api.Scope{All: true}, w.north)
		if err != nil || len(r.Shifts) != 0 || r.UpdatedAt != nil {
			t.Fatalf("a refused roster saved something: %+v %v", r, err)
		}
		// A shift with nobody is saved, and warned of.
		saved, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights(nil, roster.Backup{District: w.south})}, "lead", t0)
		if err != nil {
			t.Fatal(err)
		}
		if ws := saved.Warnings(); len(ws) != 2 || ws[1].Code != "no_staff" || ws[1].Shift != 1 {
			t.Fatalf("warnings: %+v", ws)
		}
		r, err = s.Roster(ctx, api.Scope{All: true}, w.north)
		if err != nil || len(r.Shifts) != 2 || r.Shifts[1].Backup.District != w.south || r.UpdatedBy != "lead" {
			t.Fatalf("saved roster: %+v %v", r, err)
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "district/"+itoa(w.north), 0, 10)
		if err != nil || len(log) != 1 || log[0].Action != "roster.update" || log[0].Actor != "lead" {
			t.Fatalf("audit: %+v %v", log, err)
		}
		if _, err := s.Roster(ctx, api.Scope{All: true}, 999999); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("roster of no district: %v", err)
		}
	})
}

// TestAudienceWidensByTier: an alert in district north reaches, beyond north's staff, the
// night shift on duty (nina, whose token is for south), then the backup on duty (bent),
// then central on-call (carl) — in lists, in the events the stream filters, and for acting
// on it; nobody before their tier.
func TestAudienceWidensByTier(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north)
		nina := staffUser(t, s, "nina", w.south)
		bent := staffUser(t, s, "bent", w.south)
		carl := staffUser(t, s, "carl", w.south)
		other := staffUser(t, s, "ole", w.south)
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights([]string{"nina"}, roster.Backup{User: "bent"})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveCentralOnCall(ctx, api.Scope{All: true}, 766, []string{"carl"}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		sees := func(stage string, want map[string]bool) {
			t.Helper()
			for name, scope := range map[string]api.Scope{"north": w.northStaff, "nina": nina, "bent": bent, "carl": carl, "ole": other} {
				if got := slices.Contains(listIDs(t, s, scope), id); got != want[name] {
					t.Errorf("%s: %s sees it in the list: %v, want %v", stage, name, got, want[name])
				}
			}
			evs, err := s.EventsAfter(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			last := evs[len(evs)-1]
			for name, scope := range map[string]api.Scope{"nina": nina, "bent": bent, "carl": carl, "ole": other} {
				if got := scope.Reaches(last.Municipality, last.District, last.Audience); got != want[name] {
					t.Errorf("%s: the stream sends %s the event: %v, want %v (%+v)", stage, name, got, want[name], last.Audience)
				}
			}
		}
		sees("raised", map[string]bool{"north": true, "nina": true})
		if _, err := s.Ack(ctx, id, "bent", bent, t0); !errors.Is(err, api.ErrOutOfScope) {
			t.Fatalf("the backup acknowledged before the alert reached the backup: %v", err)
		}
		if n, err := s.EscalateDue(ctx, t0.Add(61*time.Second)); err != nil || n != 1 {
			t.Fatalf("escalate to backup: %d %v", n, err)
		}
		sees("backup", map[string]bool{"north": true, "nina": true, "bent": true})
		if n, err := s.EscalateDue(ctx, t0.Add(122*time.Second)); err != nil || n != 1 {
			t.Fatalf("escalate to central: %d %v", n, err)
		}
		sees("central", map[string]bool{"north": true, "nina": true, "bent": true, "carl": true})
		a, err := s.Ack(ctx, id, "carl", carl, t0.Add(130*time.Second))
		if err != nil || a.AckedBy != "carl" {
			t.Fatalf("central acknowledges: %+v %v", a, err)
		}
	})
}

// TestBackupTeam: a backup that is a team (another district) reaches that district's
// staff and its shift on duty.
func TestBackupTeam(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north, w.south)
		staffUser(t, s, "nina", w.north)
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights([]string{"nina"}, roster.Backup{District: w.south})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if slices.Contains(listIDs(t, s, w.southStaff), id) {
			t.Fatal("the backup team sees the alert before it escalated")
		}
		if _, err := s.EscalateDue(ctx, t0.Add(61*time.Second)); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(listIDs(t, s, w.southStaff), id) {
			t.Fatal("the backup team does not see the escalated alert")
		}
		aud, err := s.AlertAudience(ctx, id)
		if err != nil || !slices.Equal(aud.Districts, []int64{w.south}) || !slices.Contains(aud.Users, "nina") {
			t.Fatalf("audience: %+v %v", aud, err)
		}
	})
}

// TestEscalateUnheard: an alert whose tier has nobody listening moves on at once, tier by
// tier; one whose shift listens waits for its deadline; a beat that went stale (the
// replica died) counts as nobody.
func TestEscalateUnheard(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north)
		staffUser(t, s, "nina", w.north)
		staffUser(t, s, "bent", w.south)
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights([]string{"nina"}, roster.Backup{User: "bent"})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		wall := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC) // streams are beaten on the wall clock
		if err := s.BeatStreams(ctx, "replica-a", map[string]int{"nina": 1}, wall); err != nil {
			t.Fatal(err)
		}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if n, err := s.EscalateUnheard(ctx, t0, wall.Add(-5*time.Second)); err != nil || n != 0 {
			t.Fatalf("nina listens, yet %d escalated (%v)", n, err)
		}
		// Replica a stops beating: nina's stream is gone.
		n, err := s.EscalateUnheard(ctx, t0.Add(time.Second), wall.Add(10*time.Second).Add(-5*time.Second))
		if err != nil || n != 2 {
			t.Fatalf("nobody listens on the shift nor the backup: %d escalated, want 2 steps (%v)", n, err)
		}
		a, err := s.Alert(ctx, id)
		if err != nil || a.EscalationLevel != 2 || a.Tier != alerts.TierCentral || a.EscalateAt != nil {
			t.Fatalf("alert after escalating unheard: %+v %v", a, err)
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "alert/"+itoa(id), 0, 10)
		if err != nil || len(log) != 2 || log[0].Detail != "central (nobody listening)" {
			t.Fatalf("audit: %+v %v", log, err)
		}

		// A district with no roster at all: its staff see the alert, and it escalates at once.
		if err := s.RegisterGateway(ctx, "gw-0043", w.home); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		id2 := ingest(t, s, alarm("gw-0043", 1, "gw-0043", vagt.AlarmFall, t0), t0).Alert.ID
		if !slices.Contains(listIDs(t, s, w.northStaff), id2) {
			t.Fatal("without a roster the district's staff do not see the alert")
		}
		if err := s.BeatStreams(ctx, "replica-a", map[string]int{"dagmar": 2}, wall.Add(20*time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.EscalateUnheard(ctx, t0.Add(2*time.Second), wall.Add(15*time.Second)); err != nil || n != 2 {
			t.Fatalf("no roster: %d escalated, want 2 (%v)", n, err)
		}
		// Technical alerts do not escalate at all (no deadline): not moved either. The
		// offline rule raises those; here only the level is checked above.
	})
}

// TestPressOnAcknowledgedRearms: a press folded into an acknowledged alert opens it again
// (a reraised event, the escalation clock restarted at its tier); a technical alert folds
// as before.
func TestPressOnAcknowledgedRearms(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		r := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0)
		if _, err := s.Ack(ctx, r.Alert.ID, "anna", w.northStaff, t0.Add(20*time.Second)); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(5 * time.Minute)
		r2 := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, at), at)
		if r2.Change != sqlstore.ChangeReraised || r2.Alert.ID != r.Alert.ID || r2.Alert.State != alerts.StateOpen ||
			r2.Alert.AckedBy != "" || r2.Alert.Count != 2 || r2.Alert.EscalateAt == nil || !r2.Alert.EscalateAt.Equal(at.Add(60*time.Second)) {
			t.Fatalf("press after ack: %+v", r2)
		}
		evs, err := s.EventsAfter(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Kind != alerts.EventReraised {
			t.Fatalf("last event %s, want reraised", last.Kind)
		}
		if n, err := s.EscalateDue(ctx, at.Add(61*time.Second)); err != nil || n != 1 {
			t.Fatalf("the restarted clock did not escalate: %d %v", n, err)
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "alert/"+itoa(r.Alert.ID), 0, 10)
		if err != nil || !slices.ContainsFunc(log, func(e api.AuditEntry) bool { return e.Action == "alert.reraise" && e.Actor == api.System }) {
			t.Fatalf("audit: %+v %v", log, err)
		}
		// Acknowledged again, then a press while open: an ordinary repeat.
		if _, err := s.Ack(ctx, r.Alert.ID, "anna", w.northStaff, at.Add(70*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resolve(ctx, r.Alert.ID, "anna", w.northStaff, alerts.OutcomeVisitedAllWell, "", at.Add(80*time.Second)); err != nil {
			t.Fatal(err)
		}
		r3 := ingest(t, s, alarm("gw-0042", 3, "bu-17:btn", vagt.AlarmPanic, at), at.Add(90*time.Second))
		r4 := ingest(t, s, alarm("gw-0042", 4, "bu-17:btn", vagt.AlarmPanic, at), at.Add(91*time.Second))
		if r3.Change != sqlstore.ChangeRaised || r4.Change != sqlstore.ChangeRepeated {
			t.Fatalf("after resolve: %s, %s", r3.Change, r4.Change)
		}
		// A technical alert acknowledged and repeated stays acknowledged.
		lb := ingest(t, s, alarm("gw-0042", 5, "bu-17:btn", vagt.AlarmLowBattery, at), at)
		if _, err := s.Ack(ctx, lb.Alert.ID, "anna", w.northStaff, at); err != nil {
			t.Fatal(err)
		}
		if r := ingest(t, s, alarm("gw-0042", 6, "bu-17:btn", vagt.AlarmLowBattery, at), at); r.Change != sqlstore.ChangeRepeated || r.Alert.State != alerts.StateAcknowledged {
			t.Fatalf("technical repeat: %+v", r)
		}
	})
}

func TestDutyAt(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north)
		staffUser(t, s, "nina", w.north)
		staffUser(t, s, "sune", w.south)
		staffUser(t, s, "carl")
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights([]string{"nina"}, roster.Backup{District: w.south})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.south, Shifts: nights([]string{"sune"}, roster.Backup{User: "nina"})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveCentralOnCall(ctx, api.Scope{All: true}, 766, []string{"carl"}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		b, err := s.DutyAt(ctx, api.Scope{All: true}, 766, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Districts) != 2 || b.Districts[0].Shift == nil || b.Districts[0].Shift.Kind != roster.Night ||
			!slices.Equal(b.Districts[0].Staff, []string{"nina"}) || !slices.Equal(b.Districts[0].BackupStaff, []string{"sune"}) ||
			!slices.Equal(b.Central, []string{"carl"}) {
			t.Fatalf("duty at 04:12: %+v", b)
		}
		b, err = s.DutyAt(ctx, api.Scope{All: true}, 766, t0.Add(6*time.Hour)) // 10:12: the day shift
		if err != nil || !slices.Equal(b.Districts[0].Staff, []string{"dagmar"}) || b.Districts[0].Shift.Kind != roster.Day {
			t.Fatalf("duty at 10:12: %+v %v", b, err)
		}
	})
}

// TestUnheardAtChangeOfShift: an alert raised near the end of the day shift stays with the
// night shift that came on and listens, instead of escalating because the day shift left.
func TestUnheardAtChangeOfShift(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north)
		staffUser(t, s, "nina", w.north)
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
		if n, err := s.EscalateUnheard(ctx, day, wall); err != nil || n != 0 {
			t.Fatalf("the day shift listens: %d %v", n, err)
		}
		// 22:10: Dagmar went home, Nina came on and listens.
		if err := s.BeatStreams(ctx, "a", map[string]int{"nina": 1}, wall.Add(20*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.EscalateUnheard(ctx, day.Add(20*time.Minute), wall.Add(20*time.Minute)); err != nil || n != 0 {
			t.Fatalf("the night shift listens: %d escalated (%v)", n, err)
		}
		aud, err := s.AlertAudience(ctx, id)
		if err != nil || !slices.Equal(aud.Users, []string{"dagmar", "nina"}) {
			t.Fatalf("audience: %+v %v", aud, err)
		}
		// Nina's console closes too: nobody listens.
		if err := s.BeatStreams(ctx, "a", nil, wall.Add(21*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.EscalateUnheard(ctx, day.Add(21*time.Minute), wall.Add(21*time.Minute)); err != nil || n != 2 {
			t.Fatalf("nobody listens: %d escalated (%v)", n, err)
		}
	})
}

// TestEmptyShiftGoesToTheBackupAtOnce: a shift with nobody on it (saved, with a warning)
// sends its alerts to the backup at once; the backup listens, so they stay there until
// the deadline.
func TestEmptyShiftGoesToTheBackupAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		staffUser(t, s, "dagmar", w.north)
		bent := staffUser(t, s, "bent", w.south)
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights(nil, roster.Backup{User: "bent"})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		wall := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
		if err := s.BeatStreams(ctx, "a", map[string]int{"bent": 1, "dagmar": 1}, wall); err != nil {
			t.Fatal(err)
		}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if n, err := s.EscalateUnheard(ctx, t0, wall); err != nil || n != 1 {
			t.Fatalf("an empty night shift: %d escalated, want 1 step to the backup (%v)", n, err)
		}
		a, err := s.Alert(ctx, id)
		if err != nil || a.Tier != alerts.TierBackup || a.EscalationLevel != 1 {
			t.Fatalf("alert: %+v %v", a, err)
		}
		if !slices.Contains(listIDs(t, s, bent), id) {
			t.Fatal("the backup does not see it")
		}
		if n, err := s.EscalateUnheard(ctx, t0.Add(time.Second), wall); err != nil || n != 0 {
			t.Fatalf("the backup listens: %d escalated (%v)", n, err)
		}
	})
}
