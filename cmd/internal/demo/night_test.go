package demo

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/server"
)

// TestShiftClockStartsAtNextNight: the accelerated shift starts at the first 22:55 Danish
// time after the demo starts (so the plans it saves are older than the first check) and
// runs faster than the wall clock.
func TestShiftClockStartsAtNextNight(t *testing.T) {
	day := func(d, h, m int) time.Time { return time.Date(2026, time.March, d, h, m, 0, 0, copenhagen) }
	for _, c := range []struct{ now, origin time.Time }{
		{day(10, 10, 0), day(10, 22, 55)},
		{day(10, 22, 54), day(10, 22, 55)},
		{day(10, 22, 55), day(11, 22, 55)},
		{day(10, 23, 30), day(11, 22, 55)},
		{day(11, 0, 30), day(11, 22, 55)},
		{day(28, 12, 0), day(28, 22, 55)}, // the day before DST starts
	} {
		if got := newShiftClock(60, c.now).origin; !got.Equal(c.origin) {
			t.Errorf("now %s: shift starts %s, want %s", c.now, got, c.origin)
		}
	}
	// A clock that has run: what passed on the wall times speed.
	c := &shiftClock{origin: day(10, 22, 55), start: time.Now().Add(-10 * time.Second), speed: 60}
	if got := c.Now(); got.Before(day(10, 23, 5)) {
		t.Errorf("10 s at speed 60 after 22:55: %s, want 23:05 or later", got.In(copenhagen))
	}
	if shift, day := nightClocks(0, time.Now()); shift != nil || day == nil {
		t.Errorf("--night-speed 0: shift %v (want nil: the API's own clock), day %v", shift, day)
	}
}

// TestDemoNightShift: the demo's homes with a bed sensor get night checks at their first
// run (not again: staff's changes stay), and with the shift clock at 23:10 the night board
// shows them (the staff's districts') due at 23:00; a "visit needed" is listed with the
// home's checks and becomes a night_visit alert.
func TestDemoNightShift(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	// A shift clock that stands at 23:10 Danish time tomorrow (after the plans are saved).
	tomorrow := time.Now().In(copenhagen).AddDate(0, 0, 1)
	due := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 23, 0, 0, 0, copenhagen)
	shift := &shiftClock{origin: due.Add(10 * time.Minute), start: time.Now(), speed: 0} // stands still: the board is read at exactly 23:10
	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "vagt.db")}, server.Deps{NightClock: shift})
	base := "http://" + srv.Addr()

	v, err := seed(ctx, srv.Store, 6, filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	withBed := map[vagt.HomeID]bool{}
	for _, h := range v.homes {
		for _, d := range h.devices {
			if d.tech == vagt.TechBedSensor {
				withBed[vagt.HomeID("home-"+string(h.gateway)[len("demo-gw-"):])] = true
			}
		}
	}
	if len(withBed) == 0 || len(withBed) == len(v.homes) {
		t.Fatalf("%d of %d homes have a bed sensor; the test wants some with and some without", len(withBed), len(v.homes))
	}
	n, err := planNights(ctx, srv.CarePlans(), v.homes, 10*time.Second)
	if err != nil || n != len(withBed) {
		t.Fatalf("planNights: %d homes, %v; want %d", n, err, len(withBed))
	}
	if n, err := planNights(ctx, srv.CarePlans(), v.homes, 10*time.Second); err != nil || n != 0 {
		t.Fatalf("planNights again: %d homes, %v; want none (plans kept as they are)", n, err)
	}

	var b night.Board
	if code := apitest.Call(t, base, v.tokens.Staff, "GET", "/api/v1/night/board", "", &b); code != 200 {
		t.Fatalf("board: %d", code)
	}
	if !b.At.Equal(due.Add(10 * time.Minute)) {
		t.Errorf("board at %s, want the shift clock's %s", b.At, due.Add(10*time.Minute))
	}
	// The staff token sees its districts' homes: some, only those with a bed sensor.
	if len(b.Homes) == 0 {
		t.Fatalf("the staff's board is empty; %d homes with a bed sensor were planned", len(withBed))
	}
	for _, h := range b.Homes {
		if !withBed[h.Home] || h.Status != night.StatusDue || h.DueAt == nil || !h.DueAt.Equal(due) {
			t.Errorf("%s: status %s due %v; want due at %s", h.Home, h.Status, h.DueAt, due.UTC())
		}
		// No InfluxDB here: the sensors are unknown, which is amber, never green.
		if h.Grade != night.Amber {
			t.Errorf("%s: grade %s without sensors, want amber", h.Home, h.Grade)
		}
	}

	h := b.Homes[0]
	body := fmt.Sprintf(`{"due_at":%q,"decision":"visit","note":"demo"}`, due.UTC().Format(time.RFC3339))
	if code := apitest.Call(t, base, v.tokens.Staff, "POST", "/api/v1/homes/"+string(h.Home)+"/night-checks", body, nil); code != 201 {
		t.Fatalf("visit needed: %d", code)
	}
	// The home's checks, by default those of the shift's last week: the visit is there,
	// though its due time is ahead of the wall clock.
	var checks struct {
		Checks []struct {
			DueAt    time.Time `json:"due_at"`
			Decision string    `json:"decision"`
		} `json:"checks"`
	}
	if code := apitest.Call(t, base, v.tokens.Staff, "GET", "/api/v1/homes/"+string(h.Home)+"/night-checks", "", &checks); code != 200 ||
		len(checks.Checks) != 1 || !checks.Checks[0].DueAt.Equal(due) || checks.Checks[0].Decision != "visit" {
		t.Errorf("the home's checks: %d %+v; want the visit due at %s", code, checks.Checks, due.UTC())
	}
	var list struct {
		Alerts []struct {
			Type    string `json:"type"`
			Gateway string `json:"gateway"`
		} `json:"alerts"`
	}
	if code := apitest.Call(t, base, v.tokens.Staff, "GET", "/api/v1/alerts", "", &list); code != 200 {
		t.Fatalf("alerts: %d", code)
	}
	found := false
	for _, a := range list.Alerts {
		found = found || (a.Type == "night_visit" && a.Gateway == string(h.Gateway))
	}
	if !found {
		raw, _ := json.Marshal(list)
		t.Errorf("no night_visit alert for %s: %s", h.Gateway, raw)
	}
}
