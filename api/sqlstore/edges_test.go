package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// savePlan stores a care plan whose effective settings carry the absence (as api/careplan
// writes them).
func savePlan(t *testing.T, s *sqlstore.Store, home vagt.HomeID, absence string) {
	t.Helper()
	eff := []byte(`{"devices":[],"rules":{}` + absence + `}`)
	if _, err := s.SaveHomeConfig(t.Context(), home, 0, 0, "mads", "test", t0, func(uint64) ([]byte, []byte, error) { return eff, eff, nil }); err != nil {
		t.Fatal(err)
	}
}

// TestAbsenceSuppressesRoutineAlarms: while the home's care plan says the citizen is away
// (t0+1h .. t0+48h), inactivity, door at night, bed exit and missed medication that arrive
// raise no alert (a redelivery is a duplicate); panic, fall, smoke and water do; before and
// after the absence, and once a new plan ends it, the routine alarms raise alerts again.
func TestAbsenceSuppressesRoutineAlarms(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		from, until := t0.Add(time.Hour), t0.Add(48*time.Hour)
		savePlan(t, s, w.home, fmt.Sprintf(`,"absence":{"from":%q,"until":%q}`, from.Format(time.RFC3339), until.Format(time.RFC3339)))

		seq := uint64(0)
		raise := func(typ vagt.AlarmType, now time.Time) sqlstore.IngestResult {
			seq++
			return ingest(t, s, alarm("gw-0042", seq, vagt.DeviceID(fmt.Sprintf("dev-%d", seq)), typ, now), now)
		}
		if r := raise(vagt.AlarmInactivity, t0); r.Change != sqlstore.ChangeRaised {
			t.Fatalf("before the absence: %s", r.Change)
		}
		away := t0.Add(2 * time.Hour)
		for _, typ := range []vagt.AlarmType{vagt.AlarmInactivity, vagt.AlarmDoorAtNight, vagt.AlarmBedExit, vagt.AlarmMissedMedication} {
			if r := raise(typ, away); r.Change != sqlstore.ChangeSuppressed || r.Alert.ID != 0 {
				t.Errorf("%s while away: %s, alert %d", typ, r.Change, r.Alert.ID)
			}
		}
		if r := ingest(t, s, alarm("gw-0042", seq, vagt.DeviceID(fmt.Sprintf("dev-%d", seq)), vagt.AlarmMissedMedication, away), away); r.Change != sqlstore.ChangeDuplicate {
			t.Errorf("a redelivered suppressed alarm: %s", r.Change)
		}
		var raisedAway int64
		for _, typ := range []vagt.AlarmType{vagt.AlarmPanic, vagt.AlarmFall, vagt.AlarmSmoke, vagt.AlarmWaterLeak, vagt.AlarmLowTemperature} {
			r := raise(typ, away)
			if r.Change != sqlstore.ChangeRaised {
				t.Errorf("%s while away: %s, want an alert", typ, r.Change)
			}
			raisedAway = r.Alert.ID
		}
		if r := raise(vagt.AlarmDoorAtNight, until); r.Change != sqlstore.ChangeRaised {
			t.Errorf("door at night as the absence ends: %s", r.Change)
		}
		// The alert's detail says when the citizen is back.
		d, err := s.AlertDetail(t.Context(), raisedAway, w.northStaff, away)
		if got := d.AwayUntil; err != nil || got == nil || !got.Equal(until) {
			t.Errorf("away until: %v %v, want %v", got, err, until)
		}
		savePlan(t, s, w.home, "") // ended early: a new plan without the absence
		if r := raise(vagt.AlarmInactivity, away); r.Change != sqlstore.ChangeRaised {
			t.Errorf("after the absence was ended: %s", r.Change)
		}
	})
}

// TestTestModeMarksAlerts: an alarm from a device in test mode (or a sub-device of a base
// unit in test mode) raises an alert marked test and records when the device was last
// tested; after the test mode ends the same device's alarm is real, and a real alarm
// folded into an open test alert makes it real; test mode is bounded and audited.
func TestTestModeMarksAlerts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		setup(t, s)
		if err := s.RegisterDevice(ctx, "bu-17", "gw-0042", vagt.TechPersonalAlarm, "base unit"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetTestMode(ctx, api.Scope{All: true}, "bu-17", t0.Add(5*time.Hour), "mads", t0); err == nil {
			t.Error("five hours of test mode accepted")
		}
		if _, err := s.SetTestMode(ctx, api.Scope{All: true}, "no-such", t0.Add(time.Hour), "mads", t0); err == nil {
			t.Error("test mode of an unknown device accepted")
		}
		if _, err := s.SetTestMode(ctx, api.Scope{All: true}, "bu-17", t0.Add(30*time.Minute), "mads", t0); err != nil {
			t.Fatal(err)
		}
		r := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0.Add(time.Minute)), t0.Add(time.Minute))
		if r.Change != sqlstore.ChangeRaised || !r.Alert.Test {
			t.Fatalf("a press in test mode: %s test=%v", r.Change, r.Alert.Test)
		}
		dev, err := s.Device(ctx, "bu-17")
		if err != nil || dev.LastTestedAt == nil || !dev.LastTestedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("last tested: %+v %v", dev, err)
		}
		// Test mode over: a real press folds into the open test alert and makes it real.
		r = ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, t0.Add(31*time.Minute)), t0.Add(31*time.Minute))
		if r.Change != sqlstore.ChangeRepeated || r.Alert.Test {
			t.Errorf("a real press after the test: %s test=%v, want a real alert", r.Change, r.Alert.Test)
		}
		// A test press folded into a real alert leaves it real.
		if _, err := s.SetTestMode(ctx, api.Scope{All: true}, "bu-17", t0.Add(time.Hour), "mads", t0.Add(32*time.Minute)); err != nil {
			t.Fatal(err)
		}
		r = ingest(t, s, alarm("gw-0042", 3, "bu-17:btn", vagt.AlarmPanic, t0.Add(33*time.Minute)), t0.Add(33*time.Minute))
		if r.Alert.Test {
			t.Error("a test press made a real alert a test")
		}
		// Another gateway's device of the same id prefix is not in test mode.
		r = ingest(t, s, alarm("gw-0099", 1, "bu-17:btn", vagt.AlarmPanic, t0.Add(33*time.Minute)), t0.Add(33*time.Minute))
		if r.Alert.Test {
			t.Error("another gateway's alarm marked test")
		}
		// A test that stays a test is not a fact of the response statistics.
		r = ingest(t, s, alarm("gw-0042", 4, "bu-17:fall", vagt.AlarmFall, t0.Add(33*time.Minute)), t0.Add(33*time.Minute))
		if !r.Alert.Test {
			t.Fatal("a fall in test mode not marked test")
		}
		facts, err := s.AlertFacts(ctx, []vagt.MunicipalityCode{766}, t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range facts {
			if f.Type == vagt.AlarmFall {
				t.Error("a test alert in the statistics' facts")
			}
		}
		if len(facts) != 2 { // the panic (made real) and the other gateway's
			t.Errorf("%d alert facts, want 2", len(facts))
		}
		if _, err := s.SetTestMode(ctx, api.Scope{All: true}, "bu-17", time.Time{}, "mads", t0.Add(34*time.Minute)); err != nil {
			t.Fatal(err)
		}
		entries, err := s.AuditLog(ctx, api.Scope{All: true}, "device/bu-17", 0, 10)
		if err != nil || len(entries) != 3 {
			t.Errorf("audit of test mode: %d entries %v", len(entries), err)
		}
		untested, err := s.DevicesUntested(ctx, api.Scope{All: true}, 766, 24*time.Hour, t0.Add(time.Hour))
		if err != nil || len(untested) != 0 {
			t.Errorf("untested in 24 h: %+v %v, want none (the unit and its pendant were tested)", untested, err)
		}
		untested, err = s.DevicesUntested(ctx, api.Scope{All: true}, 766, 10*time.Minute, t0.Add(2*time.Hour))
		if err != nil || len(untested) != 2 || untested[0].ID != "bu-17" || untested[1].ID != "bu-17:btn" {
			t.Errorf("untested in 10 min: %+v %v, want the unit and its pendant", untested, err)
		}
		if untested, err = s.DevicesUntested(ctx, api.Scope{All: true}, 101, 10*time.Minute, t0.Add(2*time.Hour)); err != nil || len(untested) != 0 {
			t.Errorf("another municipality's untested devices: %+v %v", untested, err)
		}
	})
}

// TestNeverConnected: a gateway provisioned and never heard from gets one gateway_offline
// alert marked never connected after the grace period (none before it, none again); it
// resolves itself when the gateway first connects. A gateway that did connect gets none.
func TestNeverConnected(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		if _, err := s.ProvisionGateway(ctx, api.Scope{All: true}, "gw-0100", w.home, "hash", "mads", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ProvisionGateway(ctx, api.Scope{All: true}, "gw-0101", w.home, "hash", "mads", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordStatus(ctx, &vagt.Status{Gateway: "gw-0101", Online: true, Time: t0, Heartbeat: time.Hour}, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		grace := alerts.DefaultPolicy().NeverConnected
		never := func() []alerts.Alert {
			t.Helper()
			all, err := s.ListAlerts(ctx, api.Scope{All: true}, alerts.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []alerts.Alert
			for _, a := range all {
				if a.Type == vagt.AlarmGatewayOffline && a.Details["never_connected"] == "true" {
					out = append(out, a)
				}
			}
			return out
		}
		if _, err := s.DetectOffline(ctx, t0.Add(grace-time.Second)); err != nil {
			t.Fatal(err)
		}
		if n := len(never()); n != 0 {
			t.Fatalf("%d never-connected alerts before the grace period", n)
		}
		for range 2 {
			if _, err := s.DetectOffline(ctx, t0.Add(grace)); err != nil {
				t.Fatal(err)
			}
		}
		got := never()
		if len(got) != 1 || got[0].Gateway != "gw-0100" || got[0].Priority != vagt.PriorityTechnical || got[0].State != alerts.StateOpen {
			t.Fatalf("never-connected alerts: %+v", got)
		}
		connect := t0.Add(grace + time.Hour)
		if err := s.RecordStatus(ctx, &vagt.Status{Gateway: "gw-0100", Online: true, Time: connect}, connect); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DetectOffline(ctx, connect.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		a, err := s.Alert(ctx, got[0].ID)
		if err != nil || a.State != alerts.StateResolved || a.ResolvedBy != api.System {
			t.Errorf("after the first connection: %+v %v, want resolved by the system", a, err)
		}
	})
}
