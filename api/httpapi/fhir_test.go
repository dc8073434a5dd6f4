package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/fhir"
	"github.com/vagt-dk/vagt/api/fhir/fhirtest"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

type fhirFixture struct {
	url     string
	store   *sqlstore.Store
	tokens  map[string]string
	citizen int64
}

// newFHIRFixture serves the API with the FHIR pull on the store dsn names: Hedensted
// (766) with three resolved visits of one citizen, Horsens (615) with one, and tokens for
// the care-record systems of both, district staff, a manager and an admin.
func newFHIRFixture(t *testing.T, dsn string) *fhirFixture {
	t.Helper()
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := api.NewManualClock(t0.Add(24 * time.Hour))
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Registry: registryOf(store), Clock: clock,
		FHIR: fhir.NewService(fhir.Config{Store: store, Now: clock.Now}), OpenAPI: []byte("openapi: 3.0.3\n")}))
	t.Cleanup(func() { srv.Close(); store.Close() })
	f := &fhirFixture{url: srv.URL, store: store, tokens: map[string]string{}}
	north, _ := store.CreateDistrict(ctx, 766, "Nord")
	if f.citizen, err = store.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen"}); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateHome(ctx, "home-1", north, f.citizen); err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterGateway(ctx, "gw-0001", "home-1"); err != nil {
		t.Fatal(err)
	}
	centrum, _ := store.CreateDistrict(ctx, 615, "Centrum")
	c615, _ := store.CreateCitizen(ctx, 615, api.Citizen{Name: "Ole Hansen"})
	if err := store.CreateHome(ctx, "home-615", centrum, c615); err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterGateway(ctx, "gw-615", "home-615"); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]api.Principal{
		"care":    {Role: api.RoleStaff, Municipality: 766},
		"care615": {Role: api.RoleStaff, Municipality: 615},
		"anna":    {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
		"mads":    {Role: api.RoleManager, Municipality: 766},
		"admin":   {Role: api.RoleAdmin},
	} {
		tok, hash, _ := auth.NewToken()
		p.Name = name
		if _, err := store.IssueToken(ctx, p, hash, nil, t0); err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = tok
	}
	resolve := func(gw vagt.GatewayID, m vagt.MunicipalityCode, seq uint64, typ vagt.AlarmType, at time.Time, by string, o alerts.Outcome) {
		r, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: gw, Seq: seq, Municipality: m, Time: at, Device: "btn", Type: typ, Priority: typ.Priority()}, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Resolve(ctx, r.Alert.ID, by, api.Scope{Municipality: m}, o, "", at.Add(15*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	resolve("gw-0001", 766, 1, vagt.AlarmPanic, t0, "anna", alerts.OutcomeVisitedAllWell)
	resolve("gw-615", 615, 1, vagt.AlarmFall, t0.Add(time.Minute), "ole", alerts.OutcomeVisitedHelpGiven)
	resolve("gw-0001", 766, 2, vagt.AlarmFall, t0.Add(time.Hour), "anna", alerts.OutcomeAmbulanceOrDoctor)
	resolve("gw-0001", 766, 3, vagt.AlarmInactivity, t0.Add(2*time.Hour), "bo", alerts.OutcomeFalseAlarm)
	return f
}

func (f *fhirFixture) get(t *testing.T, user, url string) (int, http.Header, []byte) {
	t.Helper()
	if strings.HasPrefix(url, "/") {
		url = f.url + url
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, body
}

func forEachFHIRStore(t *testing.T, test func(t *testing.T, f *fhirFixture)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newFHIRFixture(t, filepath.Join(t.TempDir(), "vagt.db"))) })
	t.Run("postgres", func(t *testing.T) { test(t, newFHIRFixture(t, stacktest.SharedPostgres(t))) })
}

type page struct {
	Link []struct {
		Relation, URL string
	}
	Entry []struct {
		Resource struct {
			ResourceType, ID string
		}
	}
}

func encounters(p page) []string {
	var out []string
	for _, e := range p.Entry {
		if e.Resource.ResourceType == "Encounter" {
			out = append(out, e.Resource.ID)
		}
	}
	return out
}

// A care-record system pulls the visits page by page: valid FHIR, the same page twice
// gives the same result, following next links gives every visit once, and the citizen's
// audit log says who pulled.
func TestFHIRPullOverHTTP(t *testing.T) {
	forEachFHIRStore(t, func(t *testing.T, f *fhirFixture) {
		code, h, first := f.get(t, "care", "/api/v1/fhir/Encounter?_count=2")
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/fhir+json") {
			t.Fatalf("%d %s: %s", code, h.Get("Content-Type"), first)
		}
		if p := fhirtest.Problems(first); len(p) > 0 {
			t.Fatalf("invalid page:\n%s\n%s", strings.Join(p, "\n"), first)
		}
		if _, _, again := f.get(t, "care", "/api/v1/fhir/Encounter?_count=2"); !bytes.Equal(first, again) {
			t.Fatalf("the same page twice differs:\n%s\n%s", first, again)
		}
		seen := map[string]int{}
		url := "/api/v1/fhir/Encounter?_count=2"
		for range 5 {
			code, _, body := f.get(t, "care", url)
			if code != http.StatusOK {
				t.Fatalf("%s: %d %s", url, code, body)
			}
			if p := fhirtest.Problems(body); len(p) > 0 {
				t.Fatalf("invalid page:\n%s", strings.Join(p, "\n"))
			}
			var p page
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			ids := encounters(p)
			for _, id := range ids {
				seen[id]++
			}
			if len(ids) == 0 {
				break
			}
			url = p.Link[len(p.Link)-1].URL
			if !strings.HasPrefix(url, f.url+"/api/v1/fhir/Encounter?") {
				t.Fatalf("next link %q is not this endpoint", url)
			}
		}
		if len(seen) != 3 {
			t.Fatalf("want Hedensted's 3 visits, saw %v", seen)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s pulled %d times", id, n)
			}
		}
		log, err := f.store.AuditLog(t.Context(), api.Scope{All: true}, "citizen/"+strconv.FormatInt(f.citizen, 10), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var pulls int
		for _, e := range log {
			if e.Action == "fhir.pull" && e.Actor == "care" {
				pulls++
			}
		}
		if pulls == 0 {
			t.Fatalf("pull not audited: %+v", log)
		}
	})
}

// The fault cases: another municipality's cursor or scope is 403, a cursor from the
// future is 400; roles without the municipality's whole record are refused.
func TestFHIRPullRefusals(t *testing.T) {
	forEachFHIRStore(t, func(t *testing.T, f *fhirFixture) {
		var p page
		_, _, body := f.get(t, "care615", "/api/v1/fhir/Encounter")
		if err := json.Unmarshal(body, &p); err != nil || len(encounters(p)) != 1 {
			t.Fatalf("Horsens' own page: %s", body)
		}
		cursor615 := p.Link[len(p.Link)-1].URL
		cursor615 = cursor615[strings.Index(cursor615, "cursor="):]
		last, _ := f.store.LastEventID(t.Context())
		future := fhir.Cursor{Municipality: 766, Event: last + 100}.String()
		for _, c := range []struct {
			name, user, path string
			want             int
		}{
			{"another municipality's cursor", "care", "/api/v1/fhir/Encounter?" + cursor615, http.StatusForbidden},
			{"another municipality", "care", "/api/v1/fhir/Encounter?municipality=615", http.StatusForbidden},
			{"another municipality's export", "care", "/api/v1/fhir/export?municipality=615", http.StatusForbidden},
			{"a cursor from the future", "care", "/api/v1/fhir/Encounter?cursor=" + future, http.StatusBadRequest},
			{"an export from the future", "care", "/api/v1/fhir/export?cursor=" + future, http.StatusBadRequest},
			{"_since in the future", "care", "/api/v1/fhir/Encounter?_since=2027-01-01T00:00:00Z", http.StatusBadRequest},
			{"a forged cursor", "care", "/api/v1/fhir/Encounter?cursor=x", http.StatusBadRequest},
			{"_count too large", "care", "/api/v1/fhir/Encounter?_count=1000", http.StatusBadRequest},
			{"an unknown export format", "care", "/api/v1/fhir/export?_outputFormat=text/csv", http.StatusBadRequest},
			{"district staff", "anna", "/api/v1/fhir/Encounter", http.StatusForbidden},
			{"a manager", "mads", "/api/v1/fhir/Encounter", http.StatusForbidden},
			{"an admin names the municipality", "admin", "/api/v1/fhir/Encounter", http.StatusBadRequest},
			{"an admin who did", "admin", "/api/v1/fhir/Encounter?municipality=615", http.StatusOK},
			{"no token", "nobody", "/api/v1/fhir/Encounter", http.StatusUnauthorized},
		} {
			t.Run(c.name, func(t *testing.T) {
				code, _, body := f.get(t, c.user, c.path)
				if code != c.want {
					t.Fatalf("want %d, got %d: %s", c.want, code, body)
				}
			})
		}
	})
}

func TestFHIRExportOverHTTP(t *testing.T) {
	forEachFHIRStore(t, func(t *testing.T, f *fhirFixture) {
		code, h, body := f.get(t, "care", "/api/v1/fhir/export")
		if code != http.StatusOK || h.Get("Content-Type") != "application/fhir+ndjson" ||
			!strings.Contains(h.Get("Content-Disposition"), `filename="vagt-visits-766-`) {
			t.Fatalf("%d %v: %s", code, h, body)
		}
		if p := fhirtest.NDJSONProblems(body); len(p) > 0 {
			t.Fatalf("NDJSON:\n%s\n%s", strings.Join(p, "\n"), body)
		}
		if n := strings.Count(string(body), `"resourceType":"Encounter"`); n != 3 {
			t.Fatalf("want 3 encounters, got %d", n)
		}
		link := h.Get("Link")
		if !strings.Contains(link, `rel="next-export"`) {
			t.Fatalf("link: %q", link)
		}
		// The next export from that link has nothing new yet.
		next := link[1:strings.Index(link, ">")]
		if code, _, body := f.get(t, "care", next); code != http.StatusOK || len(body) != 0 {
			t.Fatalf("next export: %d %q", code, body)
		}
		code, _, body = f.get(t, "care", "/api/v1/fhir/export?_outputFormat=application/fhir%2Bjson&_since=2026-11-23T04:00:00Z")
		if code != http.StatusOK {
			t.Fatalf("%d: %s", code, body)
		}
		if p := fhirtest.Problems(body); len(p) > 0 {
			t.Fatalf("bundle:\n%s\n%s", strings.Join(p, "\n"), body)
		}
		if n := strings.Count(string(body), `"resourceType":"Encounter"`); n != 2 {
			t.Fatalf("since 04:00 want 2 encounters, got %d", n)
		}
	})
}

func TestFHIRNotConfigured(t *testing.T) {
	f := newFixture(t)
	if code, body := f.do(t, "admin", http.MethodGet, "/api/v1/fhir/Encounter?municipality=766", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("want 503, got %d %v", code, body)
	}
}
