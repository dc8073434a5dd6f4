package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestNightChecksOfACitizen: a citizen's export has the night checks of their home (the
// state seen, the note, who checked); erasing the citizen, or the end of the keeping
// period, strips those and keeps the due time, decision and grade the statistics count.
func TestNightChecksOfACitizen(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		district, err := s.CreateDistrict(ctx, 766, "Nat")
		if err != nil {
			t.Fatal(err)
		}
		record := func(name string, due time.Time) int64 {
			cit, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: name, Address: "Bygaden 1, 8722 Hedensted"})
			if err != nil {
				t.Fatal(err)
			}
			home, gw := vagt.HomeID("home-"+name), vagt.GatewayID("gw-"+name)
			if err := errors.Join(s.CreateHome(ctx, home, district, cit), s.RegisterGateway(ctx, gw, home)); err != nil {
				t.Fatal(err)
			}
			_, err = s.RecordNightCheck(ctx, api.Scope{Municipality: 766, Districts: []int64{district}}, night.Check{Home: home, Municipality: 766, DueAt: due, By: "anna", Decision: night.AllWell,
				Grade: "green", State: night.RawJSON(`{"in_bed":true,"in_bed_since":"2026-11-22T21:40:00Z"}`), Note: "sov trygt"}, nil, t0)
			if err != nil {
				t.Fatal(err)
			}
			return cit
		}
		due := t0.Add(-time.Hour)
		erased, kept := record("karen", due), record("poul", due)

		x, err := s.CitizenExport(ctx, api.Scope{All: true}, erased, "admin", t0)
		if err != nil || len(x.NightChecks) != 1 {
			t.Fatalf("export: %+v %v", x.NightChecks, err)
		}
		if c := x.NightChecks[0]; !c.DueAt.Equal(due) || c.By != "anna" || c.Note != "sov trygt" || string(c.State) == "{}" || c.Decision != "all_well" {
			t.Errorf("exported check: %+v", c)
		}
		stripped := func(who int64) {
			t.Helper()
			x, err := s.CitizenExport(ctx, api.Scope{All: true}, who, "admin", t0)
			if err != nil || len(x.NightChecks) != 1 {
				t.Fatalf("export after: %+v %v", x.NightChecks, err)
			}
			if c := x.NightChecks[0]; string(c.State) != "{}" || c.Note != "" || c.By != "" || !c.DueAt.Equal(due) || c.Decision != "all_well" || c.Grade != "green" {
				t.Errorf("check after: %+v; want state, note and who stripped, the rest kept", c)
			}
		}
		if _, err := s.EraseCitizen(ctx, api.Scope{All: true}, erased, "admin", t0); err != nil {
			t.Fatal(err)
		}
		stripped(erased)
		if x, _ := s.CitizenExport(ctx, api.Scope{All: true}, kept, "admin", t0); len(x.NightChecks) != 1 || x.NightChecks[0].Note == "" {
			t.Errorf("another citizen's check changed by the erasure: %+v", x.NightChecks)
		}
		if _, err := s.AnonymiseAlerts(ctx, t0.Add(time.Minute), t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		stripped(kept)
	})
}
