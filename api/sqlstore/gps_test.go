package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

var gpsHome = gps.Zone{Name: "Hjem", Center: &[2]float64{55.8600, 9.8500}, Radius: 300}

// fixAt is a fix metres north of the home zone's edge (negative: inside).
func fixAt(at time.Time, metres float64) gps.Position {
	return gps.Position{Tracker: "gps.karen-01", At: at, Lat: 55.8600 + (300+metres)/111195, Lon: 9.85, Acc: 8, Battery: 80, Source: "owntracks"}
}

func record(t *testing.T, s *sqlstore.Store, p gps.Position, now time.Time) ([]sqlstore.IngestResult, error) {
	t.Helper()
	l := gps.Limits{}.WithDefaults()
	return s.RecordPosition(t.Context(), p, now, func(st *gps.TrackerState) []gps.Alarm { return gps.Decide(st, p, l) })
}

// TestGPSTrackerAlerts on SQLite and PostgreSQL: a position inside the zone raises
// nothing; the same fix again is a duplicate and an older one out of order, both refused
// without a change; an unknown tracker is refused; leaving raises left_safe_zone on the
// tracker's home (its district, escalation set) with the fix in the details; a tracker
// jumping across the edge afterwards adds no alert and no event; the alert's track has
// the zone, the address and the last positions in order.
func TestGPSTrackerAlerts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		if err := s.CreateTracker(ctx, api.Scope{All: true}, "gw-0042", w.home, "h0", "mads", t0); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("a gateway's id as tracker: %v", err)
		}
		if err := s.CreateTracker(ctx, api.Scope{All: true}, "gps.karen-01", w.home, "hash-1", "mads", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTracker(ctx, api.Scope{All: true}, "gps.karen-01", w.home, "hash-2", "mads", t0); !errors.Is(err, api.ErrConflict) {
			t.Errorf("twice: %v", err)
		}
		if id, err := s.TrackerByKey(ctx, "hash-1"); err != nil || id != "gps.karen-01" {
			t.Errorf("by key: %q %v", id, err)
		}
		bowTie := gps.Zone{Points: [][2]float64{{55.86, 9.85}, {55.86, 9.87}, {55.87, 9.85}, {55.87, 9.88}}}
		if err := s.SetSafeZones(ctx, api.Scope{All: true}, w.home, []gps.Zone{bowTie}, "mads", t0); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("a zone that is not a simple polygon: %v", err)
		}
		if zs, _ := s.SafeZones(ctx, api.Scope{All: true}, w.home); len(zs) != 0 {
			t.Errorf("refused zones stored: %+v", zs)
		}
		if err := s.SetSafeZones(ctx, api.Scope{All: true}, w.home, []gps.Zone{gpsHome}, "mads", t0); err != nil {
			t.Fatal(err)
		}
		lastEvent, _ := s.LastEventID(ctx)

		at := t0
		if r, err := record(t, s, fixAt(at, -100), at); err != nil || len(r) != 0 {
			t.Fatalf("inside: %+v %v", r, err)
		}
		if _, err := record(t, s, fixAt(at, -100), at); gps.ReasonOf(err) != gps.ReasonDuplicate {
			t.Errorf("the same fix again: %v", err)
		}
		if _, err := record(t, s, fixAt(at.Add(-time.Minute), 500), at); gps.ReasonOf(err) != gps.ReasonOutOfOrder {
			t.Errorf("an older fix: %v", err)
		}
		other := fixAt(at.Add(time.Minute), 500)
		other.Tracker = "gps.mallory"
		if _, err := record(t, s, other, at); gps.ReasonOf(err) != gps.ReasonUnknown {
			t.Errorf("unknown tracker: %v", err)
		}
		if id, _ := s.LastEventID(ctx); id != lastEvent {
			t.Fatalf("refused fixes made events: %d -> %d", lastEvent, id)
		}

		at = at.Add(time.Minute)
		r, err := record(t, s, fixAt(at, 200), at)
		if err != nil || len(r) != 1 {
			t.Fatalf("leaving: %+v %v", r, err)
		}
		a := r[0].Alert
		if r[0].Change != sqlstore.ChangeRaised || a.Type != vagt.AlarmLeftSafeZone || a.Home != w.home || a.District != w.north ||
			!a.Registered || a.Priority != vagt.PriorityHigh || a.EscalateAt == nil || a.Details["zone"] != "Hjem" || a.Details["tracker"] != "gps.karen-01" {
			t.Fatalf("left zone alert: %+v", a)
		}
		got, err := s.ListAlerts(ctx, w.northStaff, alerts.Filter{})
		if err != nil || len(got) != 1 || got[0].ID != a.ID {
			t.Fatalf("north staff see it: %+v %v", got, err)
		}
		if got, _ := s.ListAlerts(ctx, w.southStaff, alerts.Filter{}); len(got) != 0 {
			t.Errorf("south staff see it: %+v", got)
		}
		afterRaise, _ := s.LastEventID(ctx)

		// Chaos: the tracker jumps across the edge, far each way, 40 times.
		for i := range 40 {
			at = at.Add(30 * time.Second)
			m := 250.0
			if i%2 == 0 {
				m = -150
			}
			if r, err := record(t, s, fixAt(at, m), at); err != nil || len(r) != 0 {
				t.Fatalf("jump %d: %+v %v", i, r, err)
			}
		}
		if id, _ := s.LastEventID(ctx); id != afterRaise {
			t.Errorf("jumping across the edge made %d events", id-afterRaise)
		}
		if got, _ := s.ListAlerts(ctx, w.northStaff, alerts.Filter{}); len(got) != 1 {
			t.Errorf("alerts after the jumps: %d", len(got))
		}

		tr, err := s.AlertTrack(ctx, w.northStaff, a.ID, 5)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Tracker != "gps.karen-01" || tr.Address != "Søndergade 4, 8722 Hedensted" || len(tr.Zones) != 1 || len(tr.Positions) != 5 ||
			!tr.Positions[4].At.Equal(at) || !tr.Positions[0].At.Before(tr.Positions[1].At) || tr.District != w.north {
			t.Errorf("track: %+v", tr)
		}
		r2 := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0)
		if _, err := s.AlertTrack(ctx, w.northStaff, r2.Alert.ID, 5); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a gateway's alert has no track: %v", err)
		}

		if a.Details["lat"] != "" || a.Details["lon"] != "" {
			t.Errorf("coordinates in the alert's details, kept longer than positions: %v", a.Details)
		}

		// Resolved, then out again: a new alert.
		if _, err := s.Resolve(ctx, a.ID, "mads", w.northStaff, alerts.OutcomeFalseAlarm, "", at); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
		record(t, s, fixAt(at, -100), at)
		at = at.Add(time.Minute)
		if r, err := record(t, s, fixAt(at, 200), at); err != nil || len(r) != 1 || r[0].Change != sqlstore.ChangeRaised || r[0].Alert.ID == a.ID {
			t.Errorf("leaving after the alert was resolved: %+v %v", r, err)
		}

		// Erasing the citizen deletes where they went and where they may go.
		var citizen int64
		list, _ := s.Citizens(ctx, api.Scope{All: true}, 766, "mads", at)
		for _, c := range list {
			citizen = c.ID
		}
		if _, err := s.EraseCitizen(ctx, api.Scope{All: true}, citizen, "mads", at); err != nil {
			t.Fatal(err)
		}
		if tr, err := s.AlertTrack(ctx, w.northStaff, a.ID, 50); err != nil || len(tr.Positions) != 0 || len(tr.Zones) != 0 {
			t.Errorf("after erasure: %+v %v", tr, err)
		}
	})
}

// TestGPSSilenceRetentionActive: a tracker not heard from gets one silent_device alert
// (not two), which its next position marks cleared; positions past the retention period
// are deleted; active trackers are counted per municipality.
func TestGPSSilenceRetentionActive(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		if err := s.CreateTracker(ctx, api.Scope{All: true}, "gps.karen-01", w.home, "hash-1", "mads", t0); err != nil {
			t.Fatal(err)
		}
		if n, err := s.DetectSilentTrackers(ctx, t0.Add(-time.Minute), t0); err != nil || n != 0 {
			t.Fatalf("new tracker within the silence: %d %v", n, err)
		}
		if _, err := record(t, s, fixAt(t0, -100), t0); err != nil {
			t.Fatal(err)
		}
		later := t0.Add(time.Hour)
		if n, err := s.DetectSilentTrackers(ctx, later.Add(-30*time.Minute), later); err != nil || n != 1 {
			t.Fatalf("silent: %d %v", n, err)
		}
		if n, _ := s.DetectSilentTrackers(ctx, later.Add(-30*time.Minute), later.Add(time.Minute)); n != 0 {
			t.Errorf("silent again: %d", n)
		}
		got, _ := s.ListAlerts(ctx, w.northStaff, alerts.Filter{})
		if len(got) != 1 || got[0].Type != vagt.AlarmSilentDevice || got[0].Priority != vagt.PriorityTechnical || got[0].Home != w.home {
			t.Fatalf("silent alert: %+v", got)
		}
		if _, err := record(t, s, fixAt(later, -100), later); err != nil {
			t.Fatal(err)
		}
		got, _ = s.ListAlerts(ctx, w.northStaff, alerts.Filter{})
		if len(got) != 1 || got[0].ClearedAt == nil {
			t.Errorf("heard from again: %+v", got)
		}
		act, err := s.ActiveTrackers(ctx, nil, t0.Add(-24*time.Hour), t0.Add(24*time.Hour))
		if err != nil || act[766] != 1 {
			t.Errorf("active: %v %v", act, err)
		}
		if act, _ := s.ActiveTrackers(ctx, []vagt.MunicipalityCode{766}, t0.Add(48*time.Hour), t0.Add(72*time.Hour)); act[766] != 0 {
			t.Errorf("active two days later: %v", act)
		}
		if act, _ := s.ActiveTrackers(ctx, []vagt.MunicipalityCode{101}, t0.Add(-24*time.Hour), t0.Add(24*time.Hour)); len(act) != 0 {
			t.Errorf("active in another municipality: %v", act)
		}
		if n, err := s.PrunePositions(ctx, t0.Add(time.Minute)); err != nil || n != 1 {
			t.Errorf("pruned: %d %v", n, err)
		}
		tr, err := s.AlertTrack(ctx, w.northStaff, got[0].ID, 10)
		if err != nil || len(tr.Positions) != 1 || !tr.Positions[0].At.Equal(later) {
			t.Errorf("after pruning: %+v %v", tr, err)
		}
		cs, _ := s.Citizens(ctx, api.Scope{All: true}, 766, "mads", later)
		x, err := s.CitizenExport(ctx, api.Scope{All: true}, cs[0].ID, "citizen", later)
		if err != nil || len(x.Positions) != 1 || x.Positions[0].Tracker != "gps.karen-01" || !x.Positions[0].At.Equal(later) {
			t.Errorf("the citizen's export: %+v %v", x.Positions, err)
		}
	})
}

// TestGPSBatteryAndPanic on both stores: a fix at 10 % raises one technical low_battery
// alert, the next low fix nothing; the tracker's panic raises a critical alert on the home
// and a second press folds into it.
func TestGPSBatteryAndPanic(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		if err := s.CreateTracker(ctx, api.Scope{All: true}, "gps.karen-01", w.home, "hash-1", "mads", t0); err != nil {
			t.Fatal(err)
		}
		at := t0
		fix := func(batt int, panic bool) []sqlstore.IngestResult {
			at = at.Add(time.Minute)
			p := fixAt(at, -100)
			p.Battery, p.Panic = batt, panic
			r, err := record(t, s, p, at)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		r := fix(10, false)
		if len(r) != 1 || r[0].Alert.Type != vagt.AlarmLowBattery || r[0].Alert.Priority != vagt.PriorityTechnical || r[0].Alert.Details["battery"] != "10" {
			t.Fatalf("low battery: %+v", r)
		}
		if r := fix(8, false); len(r) != 0 {
			t.Errorf("still low: %+v", r)
		}
		r = fix(8, true)
		if len(r) != 1 || r[0].Change != sqlstore.ChangeRaised || r[0].Alert.Type != vagt.AlarmPanic || r[0].Alert.Priority != vagt.PriorityCritical ||
			r[0].Alert.Home != w.home || r[0].Alert.District != w.north {
			t.Fatalf("panic: %+v", r)
		}
		if r2 := fix(8, true); len(r2) != 1 || r2[0].Change != sqlstore.ChangeRepeated || r2[0].Alert.ID != r[0].Alert.ID || r2[0].Alert.Count != 2 {
			t.Errorf("second press: %+v", r2)
		}
	})
}
