package httpapi_test

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestEdgesOverHTTP on SQLite and PostgreSQL: staff set a home's absence from the console
// (another district may not); the care plan overview and the alert detail say away until;
// a routine alarm then raises nothing, a panic does; ending the absence is a new version.
// A device is put in test mode by staff of its district; its alarm raises an alert marked
// test; the registry lists the devices not tested within a period; test mode is audited.
func TestEdgesOverHTTP(t *testing.T) {
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
			clock := api.NewManualClock(t0)
			svc := careplan.NewService(store, careplan.Options{Clock: clock})
			srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}),
				Clock: clock, Registry: registryOf(store), HomeConfigs: svc, OpenAPI: []byte("openapi: 3.0.3\n")}))
			defer srv.Close()
			f := &fixture{store: store, url: srv.URL, tokens: map[string]string{}}
			north, _ := store.CreateDistrict(ctx, 766, "Nord")
			south, _ := store.CreateDistrict(ctx, 766, "Syd")
			if err := store.CreateHome(ctx, "home-1", north, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := store.ProvisionGateway(ctx, api.Scope{All: true}, "gw-0001", "home-1", "hash", "mads", t0); err != nil {
				t.Fatal(err)
			}
			if _, err := store.InstallDevice(ctx, api.Scope{All: true}, registry.Device{ID: "bu-1", Gateway: "gw-0001", Technology: vagt.TechPersonalAlarm}, "mads", t0); err != nil {
				t.Fatal(err)
			}
			for user, p := range map[string]api.Principal{
				"anna": {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
				"sara": {Role: api.RoleStaff, Municipality: 766, Districts: []int64{south}},
				"mads": {Role: api.RoleManager, Municipality: 766},
				"root": {Role: api.RoleAdmin},
			} {
				tok, hash, _ := auth.NewToken()
				p.Name = user
				if _, err := store.IssueToken(ctx, p, hash, nil, t0); err != nil {
					t.Fatal(err)
				}
				f.tokens[user] = tok
			}
			until := t0.Add(7 * 24 * time.Hour).Truncate(time.Second)
			body := fmt.Sprintf(`{"until":%q,"reason":"hospital"}`, until.Format(time.RFC3339))
			if code, _ := f.do(t, "sara", "PUT", "/api/v1/homes/home-1/absence", body); code != 404 { // out of scope answers like missing
				t.Errorf("another district sets an absence: %d", code)
			}
			if code, out := f.do(t, "anna", "PUT", "/api/v1/homes/home-1/absence", `{"until":"2020-01-01T00:00:00Z"}`); code != 400 {
				t.Errorf("an absence in the past: %d %v", code, out)
			}
			code, out := f.do(t, "anna", "PUT", "/api/v1/homes/home-1/absence", body)
			if code != 200 || out["effective"].(map[string]any)["absence"] == nil {
				t.Fatalf("set absence: %d %v", code, out)
			}
			code, out = f.do(t, "anna", "GET", "/api/v1/careplans", "")
			if homes, _ := out["homes"].([]any); code != 200 || len(homes) != 1 || homes[0].(map[string]any)["away_until"] != until.Format(time.RFC3339) {
				t.Errorf("overview: %d %v", code, out)
			}

			clock.Advance(time.Hour)
			r, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0001", Seq: 1, Municipality: 766, Time: t0, Device: "gw-0001", Type: vagt.AlarmInactivity}, clock.Now())
			if err != nil || r.Change != sqlstore.ChangeSuppressed {
				t.Errorf("inactivity while away: %s %v", r.Change, err)
			}
			r, err = store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0001", Seq: 2, Municipality: 766, Time: t0, Device: "bu-1:btn", Type: vagt.AlarmPanic}, clock.Now())
			if err != nil || r.Change != sqlstore.ChangeRaised || r.Alert.Test {
				t.Fatalf("panic while away: %+v %v", r, err)
			}
			code, out = f.do(t, "anna", "GET", fmt.Sprintf("/api/v1/alerts/%d", r.Alert.ID), "")
			if code != 200 || out["away_until"] != until.Format(time.RFC3339) {
				t.Errorf("alert detail while away: %d %v", code, out["away_until"])
			}
			if code, out = f.do(t, "anna", "DELETE", "/api/v1/homes/home-1/absence", ""); code != 200 || out["version"] != float64(2) {
				t.Errorf("end absence: %d %v", code, out)
			}
			if _, out = f.do(t, "anna", "GET", fmt.Sprintf("/api/v1/alerts/%d", r.Alert.ID), ""); out["away_until"] != nil {
				t.Errorf("alert detail after the absence: %v", out["away_until"])
			}

			// Test mode.
			if code, _ := f.do(t, "sara", "POST", "/api/v1/devices/bu-1/test", ""); code != 404 { // out of scope answers like missing
				t.Errorf("another district tests a device: %d", code)
			}
			if code, _ := f.do(t, "anna", "POST", "/api/v1/devices/bu-1/test", `{"minutes":600}`); code != 400 {
				t.Errorf("ten hours of test mode: %d", code)
			}
			code, out = f.do(t, "anna", "POST", "/api/v1/devices/bu-1/test", `{"minutes":15}`)
			if code != 200 || out["test_until"] != clock.Now().Add(15*time.Minute).UTC().Format(time.RFC3339) {
				t.Fatalf("test mode: %d %v", code, out)
			}
			clock.Advance(time.Minute)
			r, err = store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0001", Seq: 3, Municipality: 766, Time: clock.Now(), Device: "bu-1", Type: vagt.AlarmFall}, clock.Now())
			if err != nil || !r.Alert.Test {
				t.Fatalf("a fall in test mode: %+v %v", r, err)
			}
			code, out = f.do(t, "anna", "GET", "/api/v1/alerts", "")
			if list, _ := out["alerts"].([]any); code != 200 || len(list) != 2 || list[0].(map[string]any)["test"] != true || list[1].(map[string]any)["test"] != nil {
				t.Errorf("alert list: %d %v", code, out)
			}
			if code, _ := f.do(t, "anna", "DELETE", "/api/v1/devices/bu-1/test", ""); code != 200 {
				t.Errorf("end test mode: %d", code)
			}
			code, out = f.do(t, "mads", "GET", "/api/v1/devices?untested=720h", "")
			if list, _ := out["devices"].([]any); code != 200 || len(list) != 0 {
				t.Errorf("untested in 30 days, just tested: %d %v", code, out)
			}
			clock.Advance(31 * 24 * time.Hour)
			code, out = f.do(t, "mads", "GET", "/api/v1/devices?untested=720h", "")
			if list, _ := out["devices"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != "bu-1" || list[0].(map[string]any)["last_tested_at"] == nil {
				t.Errorf("untested in 30 days, a month later: %d %v", code, out)
			}
			if code, _ := f.do(t, "mads", "GET", "/api/v1/devices?untested=soon", ""); code != 400 {
				t.Errorf("untested=soon: %d", code)
			}
			code, out = f.do(t, "root", "GET", "/api/v1/audit?object=device/bu-1", "")
			if entries, _ := out["entries"].([]any); code != 200 || len(entries) < 2 {
				t.Errorf("audit of the device: %d %v", code, out)
			}
		})
	}
}
