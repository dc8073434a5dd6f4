package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// gpsPositions is the SQL store as gps.Store (as api/server wires it).
type gpsPositions struct{ *sqlstore.GPSService }

func (g gpsPositions) RecordPosition(ctx context.Context, p gps.Position, now time.Time, decide func(*gps.TrackerState) []gps.Alarm) (int, error) {
	res, err := g.GPSService.RecordPosition(ctx, p, now, decide)
	return len(res), err
}

// gpsEndpoints is the GPS service and the store's trackers as httpapi.GPSService (as
// api/server wires them).
type gpsEndpoints struct {
	*gps.Service
	store *sqlstore.GPSService
}

func (g gpsEndpoints) TrackerByKey(ctx context.Context, h string) (string, error) {
	return g.store.TrackerByKey(ctx, h)
}

func (g gpsEndpoints) CreateTracker(ctx context.Context, scope api.Scope, id string, home vagt.HomeID, keyHash, actor string, now time.Time) error {
	return g.store.CreateTracker(ctx, scope, id, home, keyHash, actor, now)
}

func (g gpsEndpoints) SetSafeZones(ctx context.Context, scope api.Scope, home vagt.HomeID, zones []gps.Zone, actor string, now time.Time) error {
	return g.store.SetSafeZones(ctx, scope, home, zones, actor, now)
}

func (g gpsEndpoints) SafeZones(ctx context.Context, scope api.Scope, home vagt.HomeID) ([]gps.Zone, error) {
	return g.store.SafeZones(ctx, scope, home)
}

func (g gpsEndpoints) AlertTrack(ctx context.Context, scope api.Scope, id int64, limit int) (gps.Track, error) {
	return g.store.AlertTrack(ctx, scope, id, limit)
}

// withGPS serves the fixture's store again with the GPS endpoints on.
func withGPS(t *testing.T, f *fixture) (*fixture, *gps.Service) {
	t.Helper()
	svc := gps.NewService(gpsPositions{f.store.GPSService}, gps.Options{Clock: f.clock})
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: f.store, Auth: f.store, Rosters: f.store,
		GPS: gpsEndpoints{svc, f.store.GPSService}, Clock: f.clock}))
	t.Cleanup(srv.Close)
	g := *f
	g.url = srv.URL
	return &g, svc
}

// TestAlertTrackReachesWhomTheAlertReached: a GPS alert's track is read by whoever the
// alert reached, as the alert itself: the district's staff and the shift on duty at once,
// the backup once it escalated to the backup, central on-call once it escalated to them;
// staff it did not reach get 404 for the track as for the alert. Before, the track asked
// only whether the alert's district was the caller's, so the backup and central on-call an
// escalated GPS alert reached saw the alert but not where the person was.
func TestAlertTrackReachesWhomTheAlertReached(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	north, south := f.districts(t)
	for _, name := range []string{"nina", "bent", "carl", "ole"} {
		f.addStaff(t, name, south)
	}
	night := []roster.Shift{{Kind: roster.Night, Weekdays: roster.Weekdays, Start: "22:00", End: "07:00", Staff: []string{"nina"}, Backup: roster.Backup{User: "bent"}}}
	if _, err := f.store.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: north, Shifts: night}, "mads", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.SaveCentralOnCall(ctx, api.Scope{All: true}, 766, []string{"carl"}, "mads", t0); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateTracker(ctx, api.Scope{All: true}, "gps.karen-01", "home-1", "hash-1", "mads", t0); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetSafeZones(ctx, api.Scope{All: true}, "home-1", []gps.Zone{{Name: "Hjem", Center: &[2]float64{55.86, 9.85}, Radius: 300}}, "mads", t0); err != nil {
		t.Fatal(err)
	}
	g, svc := withGPS(t, f)
	for i, metres := range []float64{-100, 200} { // inside the zone, then out
		p := gps.Position{Tracker: "gps.karen-01", At: t0.Add(time.Duration(i-2) * time.Minute), Lat: 55.86 + (300+metres)/111195, Lon: 9.85, Acc: 8, Battery: 80, Source: "osmand"}
		if err := svc.Accept(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	list, err := f.store.ListAlerts(ctx, api.Scope{All: true}, alerts.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var left alerts.Alert
	for _, a := range list {
		if a.Type == vagt.AlarmLeftSafeZone {
			left = a
		}
	}
	if left.ID == 0 || left.District != north || left.EscalateAt == nil {
		t.Fatalf("no left_safe_zone alert in district north with escalation: %+v", list)
	}
	path := fmt.Sprintf("/api/v1/alerts/%d", left.ID)
	reads := func(stage string, want map[string]int) {
		t.Helper()
		for _, name := range []string{"anna", "nina", "bent", "carl", "ole", "sara"} {
			alert, _ := g.do(t, name, "GET", path, "")
			track, body := g.do(t, name, "GET", path+"/track", "")
			if alert != want[name] || track != want[name] {
				t.Errorf("%s: %s reads the alert %d and its track %d, want %d for both (%v)", stage, name, alert, track, want[name], body)
			}
		}
	}
	reads("raised", map[string]int{"anna": 200, "nina": 200, "bent": 404, "carl": 404, "ole": 404, "sara": 404})

	clock := api.NewManualClock(left.EscalateAt.Add(time.Second))
	esc := &alerts.Escalator{Store: f.store, Clock: clock}
	if n, err := esc.Tick(ctx); err != nil || n == 0 { // the fixture's panic alert may escalate too
		t.Fatalf("escalate to the backup: %d %v", n, err)
	}
	reads("backup", map[string]int{"anna": 200, "nina": 200, "bent": 200, "carl": 404, "ole": 404, "sara": 404})

	a, err := f.store.Alert(ctx, left.ID)
	if err != nil || a.EscalateAt == nil {
		t.Fatalf("after the backup: %+v %v", a, err)
	}
	clock.Advance(a.EscalateAt.Add(time.Second).Sub(clock.Now()))
	if n, err := esc.Tick(ctx); err != nil || n == 0 {
		t.Fatalf("escalate to central on-call: %d %v", n, err)
	}
	reads("central", map[string]int{"anna": 200, "nina": 200, "bent": 200, "carl": 200, "ole": 404, "sara": 404})
}
