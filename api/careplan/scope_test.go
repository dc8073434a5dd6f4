package careplan_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestCarePlanScope on SQLite and PostgreSQL: the care-plan service decides access to a
// home's plan from the caller's scope. Staff of another district and a manager of another
// municipality read, change and list nothing (api.ErrOutOfScope, answered as a missing
// home); the home's own district does.
func TestCarePlanScope(t *testing.T) {
	for name, dsn := range map[string]func() string{
		"sqlite":   func() string { return filepath.Join(t.TempDir(), "vagt.db") },
		"postgres": func() string { return stacktest.SharedPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			store, err := sqlstore.Open(ctx, dsn(), sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			north, err1 := store.CreateDistrict(ctx, 766, "ScopeNorth-"+name)
			south, err2 := store.CreateDistrict(ctx, 766, "ScopeSouth-"+name)
			home, gw := vagt.HomeID("home-scope-"+name), vagt.GatewayID("gw-scope-"+name)
			if err := errors.Join(err1, err2, store.CreateHome(ctx, home, north, 0), store.RegisterGateway(ctx, gw, home),
				store.RegisterDevice(ctx, "door-scope-"+vagt.DeviceID(name), gw, vagt.TechDoorSensor, "front door")); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			svc := careplan.NewService(store, careplan.Options{Clock: api.NewManualClock(now)})
			southStaff := api.Scope{Municipality: 766, Districts: []int64{south}}
			otherManager := api.Scope{Municipality: 751}
			northStaff := api.Scope{Municipality: 766, Districts: []int64{north}}
			body := `{"devices":[{"device":"door-scope-` + name + `","technology":"door_sensor","zigbee":"front_door"}],"rules":{"night":"22:00-06:00"}}`

			for _, out := range []api.Scope{southStaff, otherManager} {
				if _, err := svc.View(ctx, out, home); !errors.Is(err, api.ErrOutOfScope) {
					t.Errorf("View in %+v: %v, want ErrOutOfScope", out, err)
				}
				if _, err := svc.Update(ctx, out, home, settings(t, body), 0, "eve"); !errors.Is(err, api.ErrOutOfScope) {
					t.Errorf("Update in %+v: %v, want ErrOutOfScope", out, err)
				}
				if _, err := svc.History(ctx, out, home, 0); !errors.Is(err, api.ErrOutOfScope) {
					t.Errorf("History in %+v: %v, want ErrOutOfScope", out, err)
				}
				if _, err := svc.SetAbsence(ctx, out, home, &careplan.Absence{Until: now.Add(24 * time.Hour), Reason: "hospital"}, "eve"); !errors.Is(err, api.ErrOutOfScope) {
					t.Errorf("SetAbsence in %+v: %v, want ErrOutOfScope", out, err)
				}
				if o, err := svc.Overview(ctx, out, 766); err != nil || len(o) != 0 {
					t.Errorf("Overview in %+v (asking for 766): %+v, %v; want no home", out, o, err)
				}
			}
			if v, err := svc.View(ctx, northStaff, home); err != nil || v.Version != 0 {
				t.Fatalf("View refused changes: %+v, %v; want version 0", v, err)
			}

			v, err := svc.Update(ctx, northStaff, home, settings(t, body), 0, "anna")
			if err != nil || v.Version != 1 {
				t.Fatalf("Update in the home's district: %+v, %v", v, err)
			}
			if h, err := svc.History(ctx, northStaff, home, 0); err != nil || len(h) != 1 {
				t.Errorf("History in the home's district: %d, %v; want 1 version", len(h), err)
			}
			if o, err := svc.Overview(ctx, northStaff, 0); err != nil || len(o) != 1 || o[0].Home != home {
				t.Errorf("Overview of the home's district: %+v, %v", o, err)
			}
			if _, err := svc.View(ctx, api.Scope{All: true}, "home-none"); !errors.Is(err, api.ErrNotFound) {
				t.Errorf("View of a home that does not exist: %v, want ErrNotFound", err)
			}
		})
	}
}
