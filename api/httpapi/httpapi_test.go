package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

var t0 = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

type fixture struct {
	store  *sqlstore.Store
	feed   *alerts.Feed
	url    string
	tokens map[string]string
	alert  int64 // a panic alert in district north
	dbPath string
	reg    *prometheus.Registry
	clock  *api.ManualClock
	logs   *syncBuffer // the handler's log
}

// gauge reads a gauge from the fixture's registry.
func (f *fixture) gauge(t testing.TB, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func newFixture(t testing.TB) *fixture { return newFixtureBuffer(t, 8) }

func newFixtureBuffer(t testing.TB, buffer int) *fixture {
	return newFixtureDB(t, buffer, filepath.Join(t.TempDir(), "vagt.db"))
}

// newFixtureDB serves the API on the database dsn (an SQLite path or a postgres:// URL).
func newFixtureDB(t testing.TB, buffer int, dsn string) *fixture {
	t.Helper()
	ctx := t.Context()
	dbPath := dsn
	store, err := sqlstore.Open(ctx, dbPath, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	feed := alerts.NewFeed(store, alerts.FeedOptions{Buffer: buffer, Poll: 50 * time.Millisecond, Registerer: reg})
	store.OnCommit(feed.Wake)
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	logs := &syncBuffer{}
	clock := api.NewManualClock(t0)
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: feed, Registry: registryOf(store), Presence: store, Rosters: store,
		Clock: clock, Gatherer: reg, MetricsToken: metricsToken, Metrics: reg, OpenAPI: []byte("openapi: 3.0.3\n"),
		StreamWriteTimeout: time.Second, TokenRecheck: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))}))
	t.Cleanup(func() { cancel(); wg.Wait(); srv.Close(); store.Close() })

	f := &fixture{store: store, feed: feed, url: srv.URL, tokens: map[string]string{}, dbPath: dbPath, reg: reg, clock: clock, logs: logs}
	north, _ := store.CreateDistrict(ctx, 766, "Nord")
	south, _ := store.CreateDistrict(ctx, 766, "Syd")
	cit, _ := store.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen"})
	if err := store.CreateHome(ctx, "home-1", north, cit); err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterGateway(ctx, "gw-0001", "home-1"); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]api.Principal{
		"anna":    {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
		"sara":    {Role: api.RoleStaff, Municipality: 766, Districts: []int64{south}},
		"mads":    {Role: api.RoleManager, Municipality: 766},
		"citizen": {Role: api.RoleCitizen, Municipality: 766},
		"admin":   {Role: api.RoleAdmin},
	} {
		tok, hash, _ := auth.NewToken()
		p.Name = name
		if _, err := store.IssueToken(ctx, p, hash, nil, t0); err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = tok
	}
	r, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0001", Seq: 1, Municipality: 766, Time: t0, Device: "btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0)
	if err != nil {
		t.Fatal(err)
	}
	f.alert = r.Alert.ID
	// The feed starts after the fixture's alarm is committed, so it begins at the log's end
	// (event 1) and no stream hears that alarm as live. Started before, it read where the
	// log ended at a moment of its own: a stream opened after this return sometimes got
	// event 1 as a live "new" (TestStreamCarriesLaneState failed so in CI).
	wg.Go(func() { feed.Run(runCtx) })
	return f
}

func (f *fixture) do(t *testing.T, user, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if tok, ok := f.tokens[user]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	a := fmt.Sprintf("/api/v1/alerts/%d", f.alert)
	for _, c := range []struct {
		name, user, method, path, body string
		code                           int
		errCode                        string
	}{
		{"no token", "", "GET", "/api/v1/alerts", "", 401, "unauthenticated"},
		{"unknown token", "vagt_forged", "GET", "/api/v1/alerts", "", 401, "unauthenticated"},
		{"another district reads", "sara", "GET", a, "", 404, "not_found"},                                     // as a missing id: ids are not revealed,
		{"another district acks", "sara", "POST", a + "/ack", "", 404, "not_found"},                            // as a missing id: ids are not revealed,
		{"another district resolves", "sara", "POST", a + "/resolve", `{"outcome":"other"}`, 404, "not_found"}, // as a missing id: ids are not revealed,
		{"a manager reads personal data", "mads", "GET", a, "", 403, "forbidden"},
		{"a citizen lists alerts", "citizen", "GET", "/api/v1/alerts", "", 403, "forbidden"},
		{"a citizen streams alerts", "citizen", "GET", "/api/v1/alerts/stream", "", 403, "forbidden"},
		{"bad JSON", "anna", "POST", a + "/resolve", `{"outcome":`, 400, "bad_json"},
		{"unknown field", "anna", "POST", a + "/resolve", `{"outcome":"other","mood":"calm"}`, 400, "bad_json"},
		{"two values", "anna", "POST", a + "/notes", `{"text":"a"}{"text":"b"}`, 400, "bad_json"},
		{"bad outcome", "anna", "POST", a + "/resolve", `{"outcome":"went_home","seen":{"count":1}}`, 400, "invalid"},
		{"empty note", "anna", "POST", a + "/notes", `{"text":""}`, 400, "invalid"},
		{"oversized body", "anna", "POST", a + "/notes", `{"text":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large"},
		{"unknown id", "anna", "GET", "/api/v1/alerts/999999", "", 404, "not_found"},
		{"id not a number", "anna", "POST", "/api/v1/alerts/abc/ack", "", 404, "not_found"},
		{"bad state filter", "anna", "GET", "/api/v1/alerts?state=lost", "", 400, "invalid"},
		{"bad priority filter", "anna", "GET", "/api/v1/alerts?priority=urgent", "", 400, "invalid"},
		{"bad paging", "anna", "GET", "/api/v1/alerts?before=-1", "", 400, "invalid"},
		{"bad Last-Event-ID", "anna", "GET", "/api/v1/alerts/stream?last_event_id=x", "", 400, "invalid"},
		{"tokens by staff", "anna", "POST", "/api/v1/tokens", `{"name":"x","role":"admin"}`, 403, "forbidden"},
		{"token with a bad role", "admin", "POST", "/api/v1/tokens", `{"name":"x","role":"king"}`, 400, "invalid"},
		{"audit by staff", "anna", "GET", "/api/v1/audit", "", 403, "forbidden"},
		{"unknown endpoint", "anna", "GET", "/api/v1/nothing", "", 404, "not_found"},
		{"wrong method", "anna", "DELETE", a, "", 405, "method_not_allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.do(t, c.user, c.method, c.path, c.body)
			e, _ := body["error"].(map[string]any)
			if code != c.code || e == nil || e["code"] != c.errCode || e["message"] == "" {
				t.Fatalf("%s %s: %d %v, want %d %s", c.method, c.path, code, body, c.code, c.errCode)
			}
		})
	}
}

func TestTokensOverTheAPI(t *testing.T) {
	f := newFixture(t)
	code, body := f.do(t, "admin", "POST", "/api/v1/tokens", `{"name":"nina","role":"staff","municipality":766,"expires_in_hours":8}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	f.tokens["nina"] = body["token"].(string)
	if code, body := f.do(t, "nina", "GET", "/api/v1/me", ""); code != 200 || body["name"] != "nina" {
		t.Fatalf("me: %d %v", code, body)
	}
	// A staff member without districts is the municipality's central on-call: sees it all.
	if code, body := f.do(t, "nina", "GET", "/api/v1/alerts", ""); code != 200 || len(body["alerts"].([]any)) != 1 || body["last_event_id"] != 1.0 {
		t.Fatalf("list: %d %v", code, body)
	}
	_, body = f.do(t, "admin", "GET", "/api/v1/audit", "")
	entries := body["entries"].([]any)
	if len(entries) < 1 || entries[len(entries)-1].(map[string]any)["action"] != "token.create" {
		t.Fatalf("audit: %v", entries)
	}
}

func TestServiceEndpoints(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/healthz", "/readyz", "/openapi.yaml", "/metrics"} {
		req, _ := http.NewRequest("GET", f.url+p, nil)
		req.Header.Set("Authorization", "Bearer "+metricsToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
}

// TestStuckStreamClientDoesNotHoldUpOthers: a client that never reads its stream does not
// delay another's events, and is cut off once its socket stops taking writes.
func TestStuckStreamClientDoesNotHoldUpOthers(t *testing.T) {
	f := newFixtureBuffer(t, 4096) // the reader may lag by all the events: only the stuck one can hold anything up
	// Events carry the alert: with 16 details of 256 bytes each is ~5 KB, so 1,200 of them
	// are more than the loopback socket buffers hold.
	details := map[string]string{}
	for i := range vagt.MaxAlarmDetails {
		details[fmt.Sprint("k", i)] = strings.Repeat("v", vagt.MaxAlarmDetailValue)
	}
	big, err := f.store.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: "gw-0001", Seq: 2, Municipality: 766, Time: t0,
		Device: "door", Type: vagt.AlarmDoorAtNight, Priority: vagt.PriorityHigh, Details: details}, t0)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(1024)
	}
	fmt.Fprintf(conn, "GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", f.tokens["anna"])

	req, _ := http.NewRequest("GET", f.url+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["anna"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	f.waitClients(t, 2, "both streams to subscribe")
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	const notes = 1200
	go func() {
		for i := range notes {
			if _, err := f.store.AddNote(context.Background(), big.Alert.ID, "anna", api.Scope{All: true}, fmt.Sprint("note ", i), t0); err != nil {
				return
			}
		}
	}()
	got := 0
	for got < notes && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "id: ") {
			got++
		}
	}
	if got != notes {
		t.Fatalf("the reading client got %d of %d events: %v", got, notes, sc.Err())
	}
	f.waitClients(t, 1, "the stuck client to be cut off")
}

// waitClients waits until the feed has want subscribers; the minute is a bound, not a target.
func (f *fixture) waitClients(t *testing.T, want float64, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for f.gauge(t, "vagt_api_stream_clients") != want {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreamResumesFromLastEventID(t *testing.T) {
	f := newFixture(t)
	for i := range 3 {
		if _, err := f.store.AddNote(t.Context(), f.alert, "anna", api.Scope{All: true}, fmt.Sprint("note ", i), t0); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.url+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["anna"])
	req.Header.Set("Last-Event-ID", "2") // saw the new alert and the first note
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	go func() {
		_, _ = f.store.AddNote(context.Background(), f.alert, "anna", api.Scope{All: true}, "live", t0)
	}()
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	for len(ids) < 3 && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			ids = append(ids, id)
		}
	}
	if strings.Join(ids, ",") != "3,4,5" {
		t.Fatalf("resumed ids %v, want 3,4,5", ids)
	}
}

// fakeVerifier accepts one JWT.
type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, token string, _ time.Time) (*api.Principal, error) {
	if token != "eyJ.good.jwt" {
		return nil, api.ErrUnauthenticated
	}
	return &api.Principal{Name: "oidc:anna", Role: api.RoleStaff, Municipality: 766}, nil
}

func TestOIDCTokensBesideVagtTokens(t *testing.T) {
	store, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store,
		Feed: alerts.NewFeed(store, alerts.FeedOptions{}), OIDC: fakeVerifier{}}))
	defer srv.Close()
	for token, want := range map[string]int{"eyJ.good.jwt": 200, "eyJ.bad.jwt": 401, "vagt_unknown": 401} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", token, resp.StatusCode, want)
		}
	}
}

// TestAckDelayObserved: an acknowledgement is observed once in the time-to-acknowledge
// histogram, under the alert's priority; a refused or repeated one is not.
func TestAckDelayObserved(t *testing.T) {
	f := newFixture(t)
	a := fmt.Sprintf("/api/v1/alerts/%d/ack", f.alert)
	count := func() (n uint64) {
		mfs, err := f.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "vagt_api_alert_ack_delay_seconds" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() != "critical" {
					t.Fatalf("ack delay observed under %v", m.GetLabel())
				}
				n += m.GetHistogram().GetSampleCount()
				if n > 0 && m.GetHistogram().GetSampleSum() != 42 {
					t.Fatalf("ack delay observed %v s, want 42", m.GetHistogram().GetSampleSum())
				}
			}
		}
		return n
	}
	if code, _ := f.do(t, "sara", "POST", a, ""); code != 404 { // out of scope answers like missing
		t.Fatalf("another district's ack: %d", code)
	}
	if n := count(); n != 0 {
		t.Fatalf("a refused ack was observed: %d", n)
	}
	f.clock.Advance(42 * time.Second)
	if code, _ := f.do(t, "anna", "POST", a, ""); code != 200 {
		t.Fatalf("ack: %d", code)
	}
	f.clock.Advance(time.Minute)
	if code, _ := f.do(t, "anna", "POST", a, ""); code != 200 { // the same actor again: a no-op
		t.Fatalf("second ack: %d", code)
	}
	if n := count(); n != 1 {
		t.Fatalf("acknowledgements observed: %d, want 1", n)
	}
}
