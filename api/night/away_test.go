package night_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestNoCheckWhileAway: a citizen away (the care plan's absence, e.g. in hospital) has
// no night check due and none missed while away — the board says until when — and the
// checks after the return fall due and are missed as usual.
func TestNoCheckWhileAway(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	district, err := store.CreateDistrict(ctx, 766, "Nat")
	if err != nil {
		t.Fatal(err)
	}
	home, gw := vagt.HomeID("home-away"), vagt.GatewayID("gw-away")
	if err := errors.Join(store.CreateHome(ctx, home, district, 0), store.RegisterGateway(ctx, gw, home),
		store.RegisterDevice(ctx, "door-away", gw, vagt.TechDoorSensor, "front door")); err != nil {
		t.Fatal(err)
	}
	// 20:00 UTC on 1 December is 21:00 in Copenhagen.
	clock := api.NewManualClock(time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC))
	plans := careplan.NewService(store, careplan.Options{Clock: clock})
	set, err := careplan.ParseSettings([]byte(`{"devices":[{"device":"door-away","technology":"door_sensor","zigbee":"door"}],"rules":{},
		"night_checks":{"times":["23:00","02:00"],"window":"30m","good":{"door_closed":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plans.Update(ctx, api.Scope{All: true}, home, set, 0, "anna"); err != nil {
		t.Fatal(err)
	}
	// Away (in hospital) from now until 00:30 Danish time: the 23:00 check is not wanted.
	back := time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC)
	if _, err := plans.SetAbsence(ctx, api.Scope{All: true}, home, &careplan.Absence{From: clock.Now(), Until: back, Reason: "hospital"}, "anna"); err != nil {
		t.Fatal(err)
	}
	svc := &night.Service{Store: store, Clock: clock}
	staff := api.Scope{Municipality: 766, Districts: []int64{district}}

	clock.Advance(2*time.Hour + 10*time.Minute) // 23:10, the 23:00 check's window
	b, err := svc.Board(ctx, staff)
	if err != nil || len(b.Homes) != 1 {
		t.Fatalf("board: %+v %v", b, err)
	}
	if h := b.Homes[0]; h.AwayUntil == nil || !h.AwayUntil.Equal(back) || h.Status != night.StatusDone || h.DueAt != nil {
		t.Errorf("away at 23:10: status %s due %v away until %v; want no check due, away until %s", h.Status, h.DueAt, h.AwayUntil, back)
	}
	clock.Advance(3*time.Hour + 30*time.Minute) // 02:40, after the 02:00 window
	n, err := svc.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep at 02:40: %d missed, %v; want 1 (02:00; not the 23:00 while away)", n, err)
	}
	checks, err := svc.Checks(ctx, staff, home, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	if err != nil || len(checks) != 1 || !checks[0].DueAt.Equal(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("checks: %+v %v; want the 02:00 missed only", checks, err)
	}
	b, err = svc.Board(ctx, staff)
	if err != nil || len(b.Homes) != 1 || b.Homes[0].AwayUntil != nil {
		t.Errorf("back home: %+v %v; want no away_until", b, err)
	}
}
