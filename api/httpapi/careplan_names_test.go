package httpapi_test

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestCarePlanOverviewNamesCitizens on SQLite and PostgreSQL: the care-plan overview names
// each home's citizen so that staff choose a plan by whom it is for (the care-plan page);
// staff see only their districts' homes, a home without a citizen has no name, and the
// read is audited (careplan.list) before it is answered.
func TestCarePlanOverviewNamesCitizens(t *testing.T) {
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
			srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}),
				Clock: clock, Registry: registryOf(store), HomeConfigs: careplan.NewService(store, careplan.Options{Clock: clock}), OpenAPI: []byte("openapi: 3.0.3\n")}))
			defer srv.Close()
			f := &fixture{store: store, url: srv.URL, tokens: map[string]string{}}
			north, _ := store.CreateDistrict(ctx, 766, "Nord")
			south, _ := store.CreateDistrict(ctx, 766, "Syd")
			karen, err := store.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen", Address: "Søndergade 4"})
			if err != nil {
				t.Fatal(err)
			}
			ole, _ := store.CreateCitizen(ctx, 766, api.Citizen{Name: "Ole Hansen"})
			for home, h := range map[string]struct{ district, citizen int64 }{
				"home-1": {north, karen}, "home-2": {north, 0}, "home-3": {south, ole},
			} {
				if err := store.CreateHome(ctx, vagt.HomeID(home), h.district, h.citizen); err != nil {
					t.Fatal(err)
				}
			}
			for user, p := range map[string]api.Principal{
				"anna": {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
				"mads": {Role: api.RoleManager, Municipality: 766},
			} {
				tok, hash, _ := auth.NewToken()
				p.Name = user
				if _, err := store.IssueToken(ctx, p, hash, nil, t0); err != nil {
					t.Fatal(err)
				}
				f.tokens[user] = tok
			}
			names := func(user string) map[string]any {
				t.Helper()
				code, out := f.do(t, user, "GET", "/api/v1/careplans", "")
				if code != 200 {
					t.Fatalf("%s: overview %d %v", user, code, out)
				}
				got := map[string]any{}
				for _, h := range out["homes"].([]any) {
					m := h.(map[string]any)
					got[m["home"].(string)] = m["citizen"]
				}
				return got
			}
			if got := names("anna"); len(got) != 2 || got["home-1"] != "Karen Jensen" || got["home-2"] != nil {
				t.Errorf("anna's overview: %v", got)
			}
			if got := names("mads"); len(got) != 3 || got["home-3"] != "Ole Hansen" {
				t.Errorf("the manager's overview: %v", got)
			}
			log, err := store.AuditLog(ctx, api.Scope{All: true}, "careplans", 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			who := map[string]string{}
			for _, e := range log {
				if e.Action == "careplan.list" {
					who[e.Actor] = e.Detail
				}
			}
			if who["anna"] != "2 homes, 1 citizens named" || who["mads"] != "3 homes, 2 citizens named" {
				t.Errorf("audit of the overview: %v (log %+v)", who, log)
			}
		})
	}
}
