package sqlstore_test

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/api/stats"
)

var _ stats.AlertRecordSource = (*sqlstore.StatsService)(nil)

// TestAlertRecordsAreAlertFacts: the records the statistics read (scanned straight into the
// shape without pointers) are the store's AlertFacts, field by field, for every
// municipality filter: acknowledged, escalated, arrived, resolved with an outcome, a test
// alert left out.
func TestAlertRecordsAreAlertFacts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		for _, d := range []struct {
			id   vagt.DeviceID
			tech vagt.Technology
		}{{"bu-17:smoke", vagt.TechSmokeAlarm}, {"bu-17:fall", vagt.TechFallDetector}} {
			if err := s.RegisterDevice(ctx, d.id, "gw-0042", d.tech, "device"); err != nil {
				t.Fatal(err)
			}
		}
		panicAlert := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert
		ingest(t, s, alarm("gw-0042", 2, "bu-17:smoke", vagt.AlarmSmoke, t0.Add(30*time.Second)), t0.Add(30*time.Second))
		fall := ingest(t, s, alarm("gw-0042", 3, "bu-17:fall", vagt.AlarmFall, t0.Add(time.Minute)), t0.Add(time.Minute)).Alert
		ingest(t, s, alarm("gw-0099", 1, "x-1", vagt.AlarmPanic, t0.Add(2*time.Minute)), t0.Add(2*time.Minute)) // no district
		if _, err := s.Ack(ctx, fall.ID, "anna", w.northStaff, t0.Add(90*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resolve(ctx, fall.ID, "anna", w.northStaff, alerts.OutcomeFalseAlarm, "", t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EscalateDue(ctx, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Arrive(ctx, panicAlert.ID, alerts.Assignee{ID: 11, Name: "anna"}, w.northStaff, t0.Add(12*time.Minute+123*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		from, to := t0.Add(-time.Hour), t0.Add(time.Hour)
		for _, muns := range [][]vagt.MunicipalityCode{nil, {766}, {101}, {101, 766}} {
			facts, err := s.AlertFacts(ctx, muns, from, to)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := s.AlertRecords(ctx, muns, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs.Records) != len(facts) {
				t.Fatalf("%v: %d records, %d facts", muns, len(rs.Records), len(facts))
			}
			for k, f := range facts {
				if got := rs.Fact(k); !sameAlertFact(got, f) {
					t.Errorf("%v: record %d is %+v, fact %+v", muns, k, got, f)
				}
			}
			if muns == nil {
				checkVaried(t, rs)
			}
		}
	})
}

// checkVaried fails unless rs has every optional time, an escalation, an outcome, a
// district name and an alert without district: what the comparison must have compared.
func checkVaried(t *testing.T, rs stats.AlertRecords) {
	t.Helper()
	var has uint8
	escalated, outcome, named, unnamed := false, false, false, false
	for _, r := range rs.Records {
		has |= r.Has
		escalated = escalated || r.Escalations > 0
		outcome = outcome || rs.Strings[r.Outcome] != ""
		named = named || rs.Strings[r.DistrictName] != ""
		unnamed = unnamed || r.District == 0
	}
	if has != stats.HasAcked|stats.HasResolved|stats.HasArrived || !escalated || !outcome || !named || !unnamed {
		t.Errorf("the alerts compared lack a case: times %03b, escalated %v, outcome %v, district %v, none %v", has, escalated, outcome, named, unnamed)
	}
}

func sameAlertFact(a, b stats.AlertFact) bool {
	at := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.Municipality == b.Municipality && a.Type == b.Type && a.Priority == b.Priority && a.RaisedAt.Equal(b.RaisedAt) &&
		at(a.AckedAt, b.AckedAt) && at(a.ResolvedAt, b.ResolvedAt) && at(a.ArrivedAt, b.ArrivedAt) && a.Outcome == b.Outcome &&
		a.Escalations == b.Escalations && a.District == b.District && a.DistrictName == b.DistrictName
}
