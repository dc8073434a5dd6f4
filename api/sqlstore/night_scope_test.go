package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestNightScope on SQLite and PostgreSQL: the night board's homes, a home's checks and
// recording a check are decided against the caller's scope by the store. Staff of another
// district and a manager of another municipality see no home on the board, read no check
// (api.ErrOutOfScope) and record none: nothing written, nothing audited, no visit alert
// raised. A scope that is not All names its municipality: municipality 0 sees nothing.
func TestNightScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		savePlan(t, s, w.home, `,"night_checks":{"times":["23:00"],"good":{"in_bed":true}}`)
		manager := api.Scope{Municipality: 766}
		outside := map[string]api.Scope{"south staff": w.southStaff, "another municipality's manager": {Municipality: 101},
			"no municipality": {Districts: []int64{w.north}}}

		for name, scope := range map[string]api.Scope{"all": {All: true}, "north staff": w.northStaff, "manager": manager} {
			if hs, err := s.NightHomes(ctx, scope); err != nil || len(hs) != 1 || hs[0].Home != w.home || hs[0].District != w.north || hs[0].Citizen != "Karen Jensen" {
				t.Errorf("%s: night homes %+v %v, want %s", name, hs, err, w.home)
			}
		}
		due := t0.Add(-time.Hour)
		check := night.Check{Home: w.home, DueAt: due, By: "mallory", Decision: night.Visit, Grade: "red", State: night.RawJSON(`{}`)}
		visit := &night.VisitAlert{Gateway: "gw-0042", Details: map[string]string{"grade": "red"}}
		audits, events := auditCount(t, s), lastEvent(t, s)
		for name, scope := range outside {
			if hs, err := s.NightHomes(ctx, scope); err != nil || len(hs) != 0 {
				t.Errorf("%s: night homes %+v %v, want none", name, hs, err)
			}
			if c, err := s.RecordNightCheck(ctx, scope, check, visit, t0); !errors.Is(err, api.ErrOutOfScope) || c.ID != 0 {
				t.Errorf("%s records a check: %+v %v", name, c, err)
			}
			if cs, err := s.NightChecks(ctx, scope, w.home, due.Add(-time.Hour), t0, 10); !errors.Is(err, api.ErrOutOfScope) || cs != nil {
				t.Errorf("%s reads the checks: %+v %v", name, cs, err)
			}
		}
		if cs, err := s.NightChecks(ctx, api.Scope{All: true}, w.home, due.Add(-time.Hour), t0, 10); err != nil || len(cs) != 0 {
			t.Errorf("refused checks were stored: %+v %v", cs, err)
		}
		if n := auditCount(t, s); n != audits {
			t.Errorf("refused checks were audited: %d entries, before %d", n, audits)
		}
		if id := lastEvent(t, s); id != events {
			t.Errorf("refused visits raised alerts: event %d, before %d", id, events)
		}
		if _, err := s.NightChecks(ctx, api.Scope{All: true}, "home-none", due, t0, 10); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("the checks of no home: %v", err)
		}
		if _, err := s.RecordNightCheck(ctx, api.Scope{All: true}, night.Check{Home: "home-none", DueAt: due, By: "anna",
			Decision: night.AllWell, Grade: "green", State: night.RawJSON(`{}`)}, nil, t0); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a check of no home: %v", err)
		}

		// The home's district staff record it; the municipality is the home's, whatever the
		// caller put in the check.
		check.By, check.Municipality = "anna", 101
		c, err := s.RecordNightCheck(ctx, w.northStaff, check, visit, t0)
		if err != nil || c.ID == 0 || c.AlertID == nil || c.Municipality != 766 {
			t.Fatalf("north staff record the check: %+v %v", c, err)
		}
		if cs, err := s.NightChecks(ctx, manager, w.home, due.Add(-time.Hour), t0, 10); err != nil || len(cs) != 1 || cs[0].ID != c.ID {
			t.Errorf("the manager reads the checks: %+v %v", cs, err)
		}
		if n := auditCount(t, s); n != audits+1 {
			t.Errorf("a check audited as %d entries, want 1", n-audits)
		}
	})
}
