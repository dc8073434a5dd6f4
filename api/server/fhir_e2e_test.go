package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/fhir/fhirtest"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestVisitDocumentedOnce: a press in the home becomes an alert over the real broker, bo
// takes it and arrives, anna resolves it, and the care record pulls the visit from the
// running server as FHIR: the served page passes the validator, starts at the arrival,
// names both and the outcome, and pulling it again gives the same page.
func TestVisitDocumentedOnce(t *testing.T) {
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
			st := startAPI(t, broker, dsn(t), "vagt-api-fhir", api.NewManualClock(t0))
			st.world(t)
			tok, hash, err := auth.NewToken()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.srv.Store.IssueToken(t.Context(), api.Principal{Name: "care-record-766", Role: api.RoleStaff, Municipality: 766}, hash, nil, time.Now()); err != nil {
				t.Fatal(err)
			}
			st.tokens["care-record"] = tok

			gw := newGateway(t, broker.URL())
			gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: t0, Device: "bu-17:btn", Type: vagt.AlarmFall})
			var list struct{ Alerts []alerts.Alert }
			waitFor(t, "the fall alert", func() bool {
				st.call(t, "anna", "GET", "/api/v1/alerts", "", &list)
				return len(list.Alerts) == 1
			})
			id := list.Alerts[0].ID
			// bo takes it (that acknowledges it), and says "arrived" 9 minutes later.
			if code := st.call(t, "bo", "POST", "/api/v1/alerts/"+itoa(id)+"/take", "", nil); code != http.StatusOK {
				t.Fatalf("take: %d", code)
			}
			st.clock.Advance(9 * time.Minute)
			if code := st.call(t, "bo", "POST", "/api/v1/alerts/"+itoa(id)+"/arrived", "", nil); code != http.StatusOK {
				t.Fatalf("arrived: %d", code)
			}
			st.clock.Advance(20 * time.Minute)
			if code := st.call(t, "anna", "POST", "/api/v1/alerts/"+itoa(id)+"/resolve", `{"outcome":"visited_help_given","note":"helped up","seen":{"count":1}}`, nil); code != http.StatusOK {
				t.Fatalf("resolve: %d", code)
			}

			get := func() []byte {
				req, _ := http.NewRequest(http.MethodGet, st.base+"/api/v1/fhir/Encounter", nil)
				req.Header.Set("Authorization", "Bearer "+st.tokens["care-record"])
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("pull: %d %s", res.StatusCode, body)
				}
				return body
			}
			page := get()
			if p := fhirtest.Problems(page); len(p) > 0 {
				t.Fatalf("served page breaks FHIR rules:\n%s\n%s", strings.Join(p, "\n"), page)
			}
			arrived := t0.Add(9 * time.Minute).UTC().Format(time.RFC3339)
			for _, want := range []string{`"id":"vagt-alert-` + itoa(id) + `"`, `"vagt-alarm-visit-visited_help_given"`, `"value":"anna"`,
				`"value":"bo"`, `"period":{"start":"` + arrived + `"`} {
				if !strings.Contains(string(page), want) {
					t.Fatalf("page lacks %s:\n%s", want, page)
				}
			}
			if again := get(); string(again) != string(page) {
				t.Fatalf("the same page twice differs:\n%s\n%s", page, again)
			}
		})
	}
}
