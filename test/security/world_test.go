package security

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// world is a running api on SQLite (with InfluxDB for statistics, export and erasure) with
// two municipalities, two districts in the first, a citizen behind a gateway in district
// Nord, an open alert from it, and a token per role.
type world struct {
	srv    *server.Server
	base   string
	dbPath string
	tokens map[string]string // principal name → token
	alert  int64             // the alert in Nord
	track  int64             // a GPS tracker's left_safe_zone alert in Nord (docs/gps.md)
	// trackFrom and on, a second per request, are the times of the fixes sent to OsmAnd.
	trackFrom time.Time
	citizen   int64 // the citizen in Nord
	home      string
	north     int64
	south     int64 // district Syd of 766
	away      int64 // a district of 101
	seq       int   // names of the objects fresh made (household)
}

// metricsToken is the world's scraper's: /metrics on the api port answers it only.
const metricsToken = "scraper-secret"

// trackerKey is the OsmAnd key of the world's GPS tracker gps.sec-1 (in the path of
// /gps/osmand/{key}: the key, not a token, is what lets a position in).
const trackerKey = "matrix-tracker-key"

const (
	ownMun   = 766 // Hedensted
	otherMun = 101 // København
)

func startWorld(t testing.TB) *world {
	t.Helper()
	w := &world{dbPath: t.TempDir() + "/vagt.db", tokens: map[string]string{}, home: "home-sec-1"}
	influxDB := stacktest.SharedInfluxDB(t)
	srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: w.dbPath, MetricsToken: metricsToken, NoAlarmLane: true,
		Influx:        influx.Config{URL: influxDB.URL, Org: influxDB.Org, Bucket: influxDB.Bucket, Token: influxDB.Token},
		NationalLogin: auth.NationalLoginConfig{Key: auth.IdentityKey(strings.Repeat("k", auth.MinIdentityKey))}}, server.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	w.srv, w.base = srv, "http://"+srv.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("api: %v", err)
		}
	})

	s := srv.Store
	north, err := s.CreateDistrict(t.Context(), ownMun, "Nord")
	must(t, err)
	w.north = north
	south, err := s.CreateDistrict(t.Context(), ownMun, "Syd")
	must(t, err)
	away, err := s.CreateDistrict(t.Context(), otherMun, "Indre By")
	must(t, err)
	w.south, w.away = south, away
	w.citizen, err = s.CreateCitizen(t.Context(), ownMun, api.Citizen{Name: "Karen Jensen", Address: "Søndergade 4, 8722 Hedensted",
		Contacts: []api.Contact{{Name: "Peter Jensen", Relation: "søn"}}}) // a relative on record, for the grants
	must(t, err)
	must(t, s.CreateHome(t.Context(), vagt.HomeID(w.home), north, w.citizen))
	must(t, s.RegisterGateway(t.Context(), "gw-sec-1", vagt.HomeID(w.home)))
	res, err := s.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: "gw-sec-1", Seq: 1, Municipality: ownMun,
		Time: time.Now().Truncate(time.Millisecond), Device: "bu-1:btn", Type: vagt.AlarmPanic}, time.Now())
	must(t, err)
	w.alert = res.Alert.ID
	// A GPS tracker of the same home that has left its safe zone: the alert whose track
	// GET /api/v1/alerts/{id}/track reads.
	now := time.Now()
	w.trackFrom = now.Add(-time.Hour).Truncate(time.Second)
	must(t, s.CreateTracker(t.Context(), api.Scope{All: true}, "gps.sec-1", vagt.HomeID(w.home), httpapi.TrackerKeyHash(trackerKey), "matrix", now))
	must(t, s.SetSafeZones(t.Context(), api.Scope{All: true}, vagt.HomeID(w.home), []gps.Zone{{Name: "Hjem", Center: &[2]float64{55.86, 9.85}, Radius: 300}}, "matrix", now))
	fix := gps.Position{Tracker: "gps.sec-1", At: w.trackFrom.Add(-time.Hour), Lat: 55.87, Lon: 9.85, Acc: 8, Battery: 80, Source: "osmand"}
	left, err := s.RecordPosition(t.Context(), fix, now, func(st *gps.TrackerState) []gps.Alarm { return gps.Decide(st, fix, gps.Limits{}.WithDefaults()) })
	must(t, err)
	if len(left) != 1 || left[0].Alert.Type != vagt.AlarmLeftSafeZone {
		t.Fatalf("the tracker's position out of its zone: %+v", left)
	}
	w.track = left[0].Alert.ID

	for name, p := range map[string]api.Principal{
		"staff-nord":    {Role: api.RoleStaff, Municipality: ownMun, Districts: []int64{north}},
		"staff-syd":     {Role: api.RoleStaff, Municipality: ownMun, Districts: []int64{south}},
		"staff-away":    {Role: api.RoleStaff, Municipality: otherMun, Districts: []int64{away}},
		"manager":       {Role: api.RoleManager, Municipality: ownMun},
		"manager-away":  {Role: api.RoleManager, Municipality: otherMun},
		"national":      {Role: api.RoleNational},
		"admin":         {Role: api.RoleAdmin},
		"citizen-other": {Role: api.RoleCitizen, Municipality: ownMun},
	} {
		tok, hash, err := auth.NewToken()
		must(t, err)
		p.Name = name
		_, err = s.IssueToken(t.Context(), p, hash, nil, time.Now())
		must(t, err)
		w.tokens[name] = tok
	}
	// The citizen's own token, obtained the way a citizen obtains it: the manager gets an
	// activation code for the letter, the citizen exchanges it.
	var out map[string]any
	if code := w.call(t, "manager", http.MethodPost, "/api/v1/citizens/"+itoa(w.citizen)+"/activation", "", &out); code/100 != 2 {
		t.Fatalf("activation code: %d %v", code, out)
	}
	if code := w.call(t, "", http.MethodPost, "/api/v1/activate", `{"code":"`+out["activation_code"].(string)+`"}`, &out); code/100 != 2 {
		t.Fatalf("activate: %d %v", code, out)
	}
	tok, _ := out["token"].(string)
	if tok == "" {
		t.Fatalf("citizen token answer without a token: %v", out)
	}
	w.tokens["citizen"] = tok
	return w
}

// call does a request as user ("" sends no token) and returns the status; out, if not
// nil, gets the JSON answer.
func (w *world) call(t testing.TB, user, method, path, body string, out any) int {
	t.Helper()
	code, _, data := w.do(t, user, method, path, body)
	if out != nil {
		_ = json.Unmarshal(data, out)
	}
	return code
}

func (w *world) do(t testing.TB, user, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, w.base+path, strings.NewReader(body))
	must(t, err)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+w.tokens[user])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if strings.HasSuffix(path, "/stream") {
		return resp.StatusCode, resp.Header, nil // an event stream does not end
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, data
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
