package sqlstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// auditCount is how many entries the audit log holds.
func auditCount(t *testing.T, s *sqlstore.Store) int {
	t.Helper()
	log, err := s.AuditLog(t.Context(), api.Scope{All: true}, "", 0, sqlstore.MaxListLimit)
	if err != nil {
		t.Fatal(err)
	}
	return len(log)
}

// TestGPSHomeScope on SQLite and PostgreSQL: a home's trackers and safe zones are decided
// against the caller's scope by the store, as its care plan is: staff of another district
// and a manager of another municipality get api.ErrOutOfScope, and nothing is written or
// audited; a home that does not exist is api.ErrNotFound; the home's district staff and
// its municipality's manager may.
func TestGPSHomeScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		manager := api.Scope{Municipality: 766}
		outside := map[string]api.Scope{"south staff": w.southStaff, "another municipality's manager": {Municipality: 101}}
		audits, events := auditCount(t, s), lastEvent(t, s)
		for name, scope := range outside {
			if err := s.CreateTracker(ctx, scope, "gps.karen-01", w.home, "hash-1", "mallory", t0); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("%s registers a tracker: %v", name, err)
			}
			if err := s.SetSafeZones(ctx, scope, w.home, []gps.Zone{gpsHome}, "mallory", t0); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("%s sets the safe zones: %v", name, err)
			}
			// Out of scope is told before the zones are checked: a refusal says nothing of the home.
			if err := s.SetSafeZones(ctx, scope, w.home, []gps.Zone{{Name: "x"}}, "mallory", t0); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("%s sets invalid safe zones: %v", name, err)
			}
			if zs, err := s.SafeZones(ctx, scope, w.home); !errors.Is(err, api.ErrOutOfScope) || zs != nil {
				t.Errorf("%s reads the safe zones: %v %v", name, zs, err)
			}
		}
		if _, err := s.TrackerByKey(ctx, "hash-1"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a refused tracker was stored: %v", err)
		}
		if zs, err := s.SafeZones(ctx, w.northStaff, w.home); err != nil || len(zs) != 0 {
			t.Errorf("refused zones were stored: %+v %v", zs, err)
		}
		if n := auditCount(t, s); n != audits {
			t.Errorf("refusals were audited: %d entries, before %d", n, audits)
		}
		if id := lastEvent(t, s); id != events {
			t.Errorf("refusals made events: %d, before %d", id, events)
		}

		if err := s.CreateTracker(ctx, manager, "gps.karen-01", "home-none", "hash-1", "mads", t0); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a tracker for no home: %v", err)
		}
		if _, err := s.SafeZones(ctx, api.Scope{All: true}, "home-none"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("the zones of no home: %v", err)
		}
		if err := s.CreateTracker(ctx, manager, "gps.karen-01", w.home, "hash-1", "mads", t0); err != nil {
			t.Fatalf("the municipality's manager registers a tracker: %v", err)
		}
		if err := s.SetSafeZones(ctx, w.northStaff, w.home, []gps.Zone{gpsHome}, "anna", t0); err != nil {
			t.Fatalf("the district's staff set the zones: %v", err)
		}
		if zs, err := s.SafeZones(ctx, manager, w.home); err != nil || len(zs) != 1 || zs[0].Name != "Hjem" {
			t.Errorf("the manager reads the zones: %+v %v", zs, err)
		}
		if n := auditCount(t, s); n != audits+2 {
			t.Errorf("a tracker and zones audited as %d entries, want 2", n-audits)
		}
	})
}

func lastEvent(t *testing.T, s *sqlstore.Store) int64 {
	t.Helper()
	id, err := s.LastEventID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestAlertReadsReachWhomTheAlertReached on SQLite and PostgreSQL: a GPS alert's detail
// and its track answer the same callers — its district's staff and the shift on duty at
// once, the backup and central on-call as the alert escalates to them — and nobody else
// (api.ErrOutOfScope, answered as missing); staff of another municipality never.
func TestAlertReadsReachWhomTheAlertReached(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		staffUser(t, s, "dagmar", w.north)
		scopes := map[string]api.Scope{
			"north":  w.northStaff,
			"nina":   staffUser(t, s, "nina", w.south),
			"bent":   staffUser(t, s, "bent", w.south),
			"carl":   staffUser(t, s, "carl", w.south),
			"ole":    staffUser(t, s, "ole", w.south),
			"aarhus": {Municipality: 751, User: "nina"}, // the same name elsewhere reaches nothing
		}
		if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: w.north, Shifts: nights([]string{"nina"}, roster.Backup{User: "bent"})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveCentralOnCall(ctx, api.Scope{All: true}, 766, []string{"carl"}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTracker(ctx, api.Scope{All: true}, "gps.karen-01", w.home, "hash-1", "mads", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSafeZones(ctx, api.Scope{All: true}, w.home, []gps.Zone{gpsHome}, "mads", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := record(t, s, fixAt(t0.Add(-2*time.Minute), -100), t0); err != nil {
			t.Fatal(err)
		}
		r, err := record(t, s, fixAt(t0.Add(-time.Minute), 200), t0)
		if err != nil || len(r) != 1 || r[0].Alert.Type != vagt.AlarmLeftSafeZone {
			t.Fatalf("leaving the zone: %+v %v", r, err)
		}
		id := r[0].Alert.ID
		reads := func(stage string, reached ...string) {
			t.Helper()
			for name, scope := range scopes {
				want := name == "north" || slices.Contains(reached, name)
				d, derr := s.AlertDetail(ctx, id, scope, t0)
				tr, terr := s.AlertTrack(ctx, scope, id, 10)
				if want && (derr != nil || d.ID != id || d.Citizen == nil || terr != nil || len(tr.Positions) != 2) {
					t.Errorf("%s: %s, whom the alert reached, reads detail %v and track %v (%d positions)", stage, name, derr, terr, len(tr.Positions))
				}
				if !want && (!errors.Is(derr, api.ErrOutOfScope) || d.Citizen != nil || !errors.Is(terr, api.ErrOutOfScope) || tr.Positions != nil) {
					t.Errorf("%s: %s, whom the alert did not reach, reads detail %v and track %v (%d positions)", stage, name, derr, terr, len(tr.Positions))
				}
			}
		}
		reads("raised", "nina")
		a, err := s.Alert(ctx, id)
		if err != nil || a.EscalateAt == nil {
			t.Fatalf("no escalation: %+v %v", a, err)
		}
		if n, err := s.EscalateDue(ctx, a.EscalateAt.Add(time.Second)); err != nil || n != 1 {
			t.Fatalf("escalate to the backup: %d %v", n, err)
		}
		reads("backup", "nina", "bent")
		if a, err = s.Alert(ctx, id); err != nil || a.EscalateAt == nil {
			t.Fatalf("no second escalation: %+v %v", a, err)
		}
		if n, err := s.EscalateDue(ctx, a.EscalateAt.Add(time.Second)); err != nil || n != 1 {
			t.Fatalf("escalate to central on-call: %d %v", n, err)
		}
		reads("central", "nina", "bent", "carl")
		if _, err := s.AlertDetail(ctx, id+1000, api.Scope{All: true}, t0); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("the detail of no alert: %v", err)
		}
		if _, err := s.AlertTrack(ctx, api.Scope{All: true}, id+1000, 10); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("the track of no alert: %v", err)
		}
	})
}
