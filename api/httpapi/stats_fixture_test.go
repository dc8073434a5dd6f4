package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/api/stats"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The known registry and telemetry the statistics tests assert exact figures on.
//
// Hedensted (766), district Nord; citizens C1-C7 registered 2025-12-01; Horsens (615)
// citizen H1. Devices (md = medicine_dispenser, pa = personal_alarm):
//
//	C1 gw-1: md-1 installed 2025-12-10, pa-1 installed 2025-12-10
//	C2 gw-2: md-2 installed 2026-01-15
//	C3 gw-3: md-3 installed 2026-02-01, removed 2026-03-10 (churn: 37 days)
//	C4 gw-4: md-4 installed 2025-06-01, removed 2026-02-20 (a removal, not churn)
//	C5 gw-5: md-5 installed 2026-03-05
//	C6 gw-6: md-6 installed 2025-09-01 (reports only in December 2025)
//	C7 gw-8: md-8 installed 2025-11-01
//	H1 gw-7: md-7 installed 2026-01-05
//
// Readings: see readings below. The period asked is 2026-01-01 .. 2026-04-01 by month.

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

var readings = []struct {
	mun      int
	gw, dev  string
	kind, at string
	tech     string
	value    float64
}{
	{766, "gw-1", "md-1", "medication_taken", "2026-01-05T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-1", "md-1", "medication_taken", "2026-02-05T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-1", "md-1", "medication_taken", "2026-03-05T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-1", "pa-1", "battery", "2026-01-01T00:00:00Z", "unknown", 97},
	{766, "gw-1", "pa-1", "battery", "2026-03-31T23:59:59Z", "unknown", 95},
	{766, "gw-1", "env-1", "temperature", "2026-03-15T12:00:00Z", "environment_sensor", 21.5}, // not registered
	{766, "gw-2", "md-2", "medication_taken", "2026-01-20T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-2", "md-2", "medication_taken", "2026-02-10T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-3", "md-3", "medication_taken", "2026-02-02T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-3", "md-3", "medication_missed", "2026-03-01T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-4", "md-4", "medication_taken", "2026-01-03T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-5", "md-5", "medication_taken", "2026-03-06T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-6", "md-6", "medication_taken", "2025-12-20T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-8", "md-8", "medication_taken", "2026-01-07T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-8", "md-8", "medication_taken", "2026-02-07T08:00:00Z", "medicine_dispenser", 1},
	{766, "gw-8", "md-8", "medication_taken", "2026-03-07T08:00:00Z", "medicine_dispenser", 1},
	{615, "gw-7", "md-7", "medication_taken", "2026-01-10T08:00:00Z", "medicine_dispenser", 1},
	{615, "gw-7", "md-7", "medication_taken", "2026-02-10T08:00:00Z", "medicine_dispenser", 1},
	{615, "gw-7", "md-7", "medication_taken", "2026-03-10T08:00:00Z", "medicine_dispenser", 1},
}

type statsFixture struct {
	*fixture
	clock  *api.ManualClock
	influx localstack.InfluxTarget
	svc    *stats.Service    // its Telemetry is what the statistics read
	tel    *influx.Telemetry // InfluxDB alone
	dsn    string
	cit    map[string]int64 // citizen name → id
	alerts map[string]int64
}

// writeLines writes line protocol (precision s) to the test's InfluxDB database.
func writeLines(t testing.TB, target localstack.InfluxTarget, lines string) {
	t.Helper()
	resp, err := http.Post(target.URL+"/write?precision=s&db="+url.QueryEscape(target.Database), "text/plain", strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("write: %s: %s", resp.Status, b)
	}
}

// influxCount counts the readings of a gateway over all of 2000-2100 (InfluxQL, apart from
// the code under test).
func influxCount(t testing.TB, target localstack.InfluxTarget, gw string) int {
	t.Helper()
	q := url.Values{"db": {target.Database}, "q": {fmt.Sprintf(`SELECT COUNT("value") FROM "reading" WHERE "gw" = '%s'`, gw)}}
	resp, err := http.Get(target.URL + "/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Series []struct{ Values [][]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) == 0 || len(out.Results[0].Series) == 0 {
		return 0
	}
	return int(out.Results[0].Series[0].Values[0][1].(float64))
}

// newStatsFixture serves the API on dsn with the known registry (loaded through the API)
// and telemetry.
func newStatsFixture(t *testing.T, dsn string) *statsFixture {
	t.Helper()
	ctx := t.Context()
	target := stacktest.SharedInfluxDB(t)
	store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tel, err := influx.NewTelemetry(influx.Config{URL: target.URL, Org: target.Org, Bucket: target.Bucket, Token: target.Token})
	if err != nil {
		t.Fatal(err)
	}
	clock := api.NewManualClock(day("2025-12-01"))
	svc := &stats.Service{Store: store, Telemetry: tel, Model: stats.DefaultBenefitModel()}
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}),
		Clock: clock, OpenAPI: []byte("openapi: 3.0.3\n"), Registry: registryOf(store), Stats: svc, Telemetry: tel, Population: stats.DefaultPopulation(),
		// Shorter than the default 10 years, so that a period longer than the retention
		// is still within 36 months (TestStatisticsRefuseBadPeriodsAlike).
		StatsRetention: statsRetention}))
	t.Cleanup(func() { srv.Close(); tel.Close(); store.Close() })
	f := &statsFixture{fixture: &fixture{store: store, url: srv.URL, tokens: map[string]string{}, dbPath: dsn}, clock: clock, influx: target,
		svc: svc, tel: tel, dsn: dsn, cit: map[string]int64{}, alerts: map[string]int64{}}
	for name, p := range map[string]api.Principal{
		"mads":    {Role: api.RoleManager, Municipality: 766},
		"hanne":   {Role: api.RoleManager, Municipality: 615},
		"kl":      {Role: api.RoleNational},
		"admin":   {Role: api.RoleAdmin},
		"anna":    {Role: api.RoleStaff, Municipality: 766},
		"citizen": {Role: api.RoleCitizen, Municipality: 766},
	} {
		tok, hash, _ := auth.NewToken()
		p.Name = name
		if _, err := store.IssueToken(ctx, p, hash, nil, clock.Now()); err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = tok
	}
	f.loadRegistry(t)
	var lp strings.Builder
	for _, r := range readings {
		fmt.Fprintf(&lp, "reading,dev=%s,gw=%s,kind=%s,mun=%d,tech=%s value=%g %d\n", r.dev, r.gw, r.kind, r.mun, r.tech, r.value, day(r.at).Unix())
	}
	writeLines(t, target, lp.String())
	f.loadAlerts(t)
	return f
}

// must does a request and fails the test unless it answers want.
func (f *statsFixture) must(t *testing.T, want int, user, method, path, body string) map[string]any {
	t.Helper()
	code, out := f.do(t, user, method, path, body)
	if code != want {
		t.Fatalf("%s %s as %s: %d %v, want %d", method, path, user, code, out, want)
	}
	return out
}

func (f *statsFixture) loadRegistry(t *testing.T) {
	t.Helper()
	nord := int64(f.must(t, 201, "mads", "POST", "/api/v1/districts", `{"name":"Nord"}`)["id"].(float64))
	midt := int64(f.must(t, 201, "hanne", "POST", "/api/v1/districts", `{"name":"Midt"}`)["id"].(float64))
	type home struct {
		citizen, mun, gw string
		devices          [][3]string // id, technology, installed_at
	}
	homes := []home{
		{"C1", "766", "gw-1", [][3]string{{"md-1", "medicine_dispenser", "2025-12-10"}, {"pa-1", "personal_alarm", "2025-12-10"}}},
		{"C2", "766", "gw-2", [][3]string{{"md-2", "medicine_dispenser", "2026-01-15"}}},
		{"C3", "766", "gw-3", [][3]string{{"md-3", "medicine_dispenser", "2026-02-01"}}},
		{"C4", "766", "gw-4", [][3]string{{"md-4", "medicine_dispenser", "2025-06-01"}}},
		{"C5", "766", "gw-5", [][3]string{{"md-5", "medicine_dispenser", "2026-03-05"}}},
		{"C6", "766", "gw-6", [][3]string{{"md-6", "medicine_dispenser", "2025-09-01"}}},
		{"C7", "766", "gw-8", [][3]string{{"md-8", "medicine_dispenser", "2025-11-01"}}},
		{"H1", "615", "gw-7", [][3]string{{"md-7", "medicine_dispenser", "2026-01-05"}}},
	}
	for i, h := range homes {
		user, district := "mads", nord
		if h.mun == "615" {
			user, district = "hanne", midt
		}
		body := fmt.Sprintf(`{"name":"%s Testesen","address":"Vej %d, 8722 Hedensted","key_box_note":"kode 12%d","contacts":[{"name":"Datter af %s","phone":"+45 1234567%d","relation":"datter"}]}`, h.citizen, i, i, h.citizen, i)
		c := f.must(t, 201, user, "POST", "/api/v1/citizens", body)
		f.cit[h.citizen] = int64(c["id"].(float64))
		homeID := "home-" + strings.ToLower(h.citizen)
		f.must(t, 201, user, "POST", "/api/v1/homes", fmt.Sprintf(`{"id":"%s","district":%d,"citizen":%d}`, homeID, district, f.cit[h.citizen]))
		g := f.must(t, 201, user, "POST", "/api/v1/gateways", fmt.Sprintf(`{"id":"%s","home":"%s"}`, h.gw, homeID))
		// The installer gets the password, not its hash (issue 22, item 7); the broker's
		// operator reads the password-file line as an admin.
		if m := g["mqtt"].(map[string]any); m["username"] != h.gw || len(m["password"].(string)) < 30 || m["acl"] != "pattern write vagt/v1/gw/%u/#" ||
			m["password_hash"] != nil {
			t.Fatalf("gateway credentials: %v", m)
		}
		line := f.must(t, 200, "admin", "GET", "/api/v1/gateways/"+h.gw+"/password-file-line", "")
		if !strings.HasPrefix(line["password_file_line"].(string), h.gw+":$7$101$") {
			t.Fatalf("password file line: %v", line)
		}
		f.must(t, 403, user, "GET", "/api/v1/gateways/"+h.gw+"/password-file-line", "")
		for _, d := range h.devices {
			f.must(t, 201, user, "POST", "/api/v1/devices", fmt.Sprintf(`{"id":"%s","gateway":"%s","technology":"%s","label":"x","installed_at":"%sT00:00:00Z"}`,
				d[0], h.gw, d[1], d[2]))
		}
	}
	f.must(t, 200, "mads", "POST", "/api/v1/devices/md-3/remove", `{"removed_at":"2026-03-10T00:00:00Z"}`)
	f.must(t, 200, "mads", "POST", "/api/v1/devices/md-4/remove", `{"removed_at":"2026-02-20T00:00:00Z"}`)
	// The status lane reports a device nobody registered: it is pending.
	if err := f.store.RecordStatus(t.Context(), &vagt.Status{Gateway: "gw-1", Online: true, Municipality: 766, Time: day("2026-03-15"),
		Inventory: []vagt.DeviceStatus{{Device: "env-1", Technology: vagt.TechEnvironmentSensor, LastSeen: day("2026-03-15"), Battery: 80}}}, day("2026-03-15")); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(day("2026-04-15").Sub(f.clock.Now()))
}

func (f *statsFixture) loadAlerts(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	seq := uint64(0)
	raise := func(name, gw, dev string, typ vagt.AlarmType, at time.Time) int64 {
		seq++
		r, err := f.store.IngestAlarm(ctx, &vagt.Alarm{Gateway: vagt.GatewayID(gw), Seq: seq, Municipality: 766, Time: at, Device: vagt.DeviceID(dev), Type: typ, Priority: typ.Priority()}, at)
		if err != nil {
			t.Fatal(err)
		}
		f.alerts[name] = r.Alert.ID
		return r.Alert.ID
	}
	all := api.Scope{All: true}
	ack := func(id int64, at time.Time) {
		if _, err := f.store.Ack(ctx, id, "anna", all, at); err != nil {
			t.Fatal(err)
		}
	}
	resolve := func(id int64, o alerts.Outcome, at time.Time) {
		if _, err := f.store.Resolve(ctx, id, "anna", all, o, "", at); err != nil {
			t.Fatal(err)
		}
	}
	t1 := day("2026-02-03T10:00:00Z")
	a1 := raise("A1", "gw-1", "pa-1", vagt.AlarmPanic, t1)
	ack(a1, t1.Add(45*time.Second))
	if _, err := f.store.AddNote(ctx, a1, "anna", all, "C1 Testesen was on the floor", t1.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Presence (issue 21): anna arrived 12 minutes after the press (in time).
	if _, err := f.store.Arrive(ctx, a1, alerts.Assignee{Name: "anna"}, all, t1.Add(12*time.Minute)); err != nil {
		t.Fatal(err)
	}
	resolve(a1, alerts.OutcomeVisitedAllWell, t1.Add(20*time.Minute))
	t2 := day("2026-02-04T10:00:00Z")
	a2 := raise("A2", "gw-2", "fall-2", vagt.AlarmFall, t2)
	ack(a2, t2.Add(120*time.Second))
	resolve(a2, alerts.OutcomeFalseAlarm, t2.Add(30*time.Minute))
	t3 := day("2026-02-05T10:00:00Z")
	a3 := raise("A3", "gw-3", "pa-3", vagt.AlarmPanic, t3)
	if n, err := f.store.EscalateDue(ctx, t3.Add(61*time.Second)); err != nil || n != 1 {
		t.Fatalf("escalate: %d %v", n, err)
	}
	ack(a3, t3.Add(300*time.Second))
	resolve(a3, alerts.OutcomeTechnicalFault, t3.Add(time.Hour))
	raise("A4", "gw-1", "pa-1", vagt.AlarmLowBattery, day("2026-02-06T10:00:00Z"))
	t5 := day("2026-03-02T10:00:00Z")
	a5 := raise("A5", "gw-5", "md-5", vagt.AlarmPanic, t5)
	ack(a5, t5.Add(30*time.Second))
	// On the way after a minute, arrived after 40 (late); still open.
	if _, err := f.store.Enroute(ctx, a5, alerts.Assignee{Name: "anna"}, all, t5.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Arrive(ctx, a5, alerts.Assignee{Name: "anna"}, all, t5.Add(40*time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// get does a GET with an Accept header and returns the status and body.
// statsRetention is the fixture's retention of statistics: from the clock's 2026-04-15 back
// to 2025-03-11.
const statsRetention = 400 * 24 * time.Hour

func (f *statsFixture) get(t *testing.T, user, path, accept string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", f.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// both runs f on SQLite and on PostgreSQL.
func both(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, filepath.Join(t.TempDir(), "vagt.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, stacktest.SharedPostgres(t)) })
}
