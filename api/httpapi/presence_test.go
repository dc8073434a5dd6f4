package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestPresenceOverHTTP: take, on my way, arrived, resolve as the care app calls them; the
// refusals; the stream's events.
func TestPresenceOverHTTP(t *testing.T) {
	f := newFixture(t)
	a := fmt.Sprintf("/api/v1/alerts/%d", f.alert)
	_, events := openStream(t, f, "", "anna", "")
	for _, c := range []struct {
		name, user, path string
		code             int
		errCode          string
	}{
		{"another district takes", "sara", a + "/take", 404, "not_found"},
		{"a manager takes", "mads", a + "/take", 403, "forbidden"},
		{"a citizen takes", "citizen", a + "/take", 403, "forbidden"},
		{"unknown alert", "anna", "/api/v1/alerts/999999/take", 404, "not_found"},
		{"release what nobody took", "anna", a + "/release", 409, "conflict"},
	} {
		if code, body := f.do(t, c.user, "POST", c.path, ""); code != c.code || body["error"].(map[string]any)["code"] != c.errCode {
			t.Fatalf("%s: %d %v", c.name, code, body)
		}
	}
	f.clock.Advance(15 * time.Second)
	code, body := f.do(t, "anna", "POST", a+"/take", "")
	if as, _ := body["assignee"].(map[string]any); code != 200 || body["step"] != "taken" || body["state"] != "acknowledged" ||
		as["name"] != "anna" || as["id"] == nil || body["taken_at"] == nil {
		t.Fatalf("take: %d %v", code, body)
	}
	if ev := eventNamed(t, events, "taken"); !json.Valid([]byte(ev.data)) {
		t.Fatalf("stream after take: %+v", ev)
	}
	// A colleague of the district is told anna has it.
	al, _ := f.store.Alert(t.Context(), f.alert)
	tok, hash, _ := auth.NewToken()
	if _, err := f.store.IssueToken(t.Context(), api.Principal{Name: "bo", Role: api.RoleStaff, Municipality: 766, Districts: []int64{al.District}}, hash, nil, t0); err != nil {
		t.Fatal(err)
	}
	f.tokens["bo"] = tok
	code, body = f.do(t, "bo", "POST", a+"/enroute", "")
	if e, _ := body["error"].(map[string]any); code != 409 || e["by"] != "anna" {
		t.Fatalf("bo on the way: %d %v", code, body)
	}
	for _, step := range []string{"enroute", "arrived"} {
		f.clock.Advance(5 * time.Minute)
		if code, body := f.do(t, "anna", "POST", a+"/"+step, ""); code != 200 || body["step"] != step {
			t.Fatalf("%s: %d %v", step, code, body)
		}
		if ev := eventNamed(t, events, step); ev.name != step {
			t.Fatalf("stream after %s: %+v", step, ev)
		}
	}
	if code, body := f.do(t, "anna", "POST", a+"/resolve", `{}`); code != 400 {
		t.Fatalf("resolve without an outcome after arrival: %d %v", code, body)
	}
	if code, body := f.do(t, "anna", "POST", a+"/resolve", `{"outcome":"visited_help_given","seen":{"count":1}}`); code != 200 || body["step"] != "resolved" || body["arrived_at"] == nil {
		t.Fatalf("resolve: %d %v", code, body)
	}
	code, body = f.do(t, "anna", "GET", a, "")
	tl, _ := body["timeline"].([]any)
	if code != 200 || len(tl) != 6 {
		t.Fatalf("detail timeline: %d %v", code, body["timeline"])
	}
	if last := tl[5].(map[string]any); last["step"] != "resolved" || last["by"] != "anna" || last["detail"] != "visited_help_given" {
		t.Fatalf("timeline ends %v", last)
	}
}

// eventNamed returns the next event called name, passing others (the raise, which a new
// stream may or may not replay).
func eventNamed(t *testing.T, c <-chan sse, name string) sse {
	t.Helper()
	for {
		if ev := nextEvent(t, c, name); ev.name == name {
			return ev
		}
	}
}

// replica is one api process of several on one database.
type replica struct {
	url   string
	store *sqlstore.Store
}

// presenceReplicas starts n api handlers, each with its own store handle and feed, on the
// database dsn, and issues staff tokens anna and bo of district north.
func presenceReplicas(t *testing.T, dsn string, n int) ([]replica, map[string]string, int64) {
	t.Helper()
	ctx := t.Context()
	var out []replica
	for range n {
		store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		feed := alerts.NewFeed(store, alerts.FeedOptions{Buffer: 64, Poll: 50 * time.Millisecond})
		store.OnCommit(feed.Wake)
		runCtx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { feed.Run(runCtx) })
		srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: feed, Presence: store,
			Clock: api.NewManualClock(t0), StreamWriteTimeout: time.Second}))
		t.Cleanup(func() { cancel(); wg.Wait(); srv.Close(); store.Close() })
		out = append(out, replica{url: srv.URL, store: store})
	}
	s := out[0].store
	north, err := s.CreateDistrict(ctx, 766, "Nord")
	if err != nil {
		t.Fatal(err)
	}
	cit, _ := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen"})
	if err := s.CreateHome(ctx, "home-1", north, cit); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterGateway(ctx, "gw-0001", "home-1"); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, name := range []string{"anna", "bo"} {
		tok, hash, _ := auth.NewToken()
		if _, err := s.IssueToken(ctx, api.Principal{Name: name, Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}}, hash, nil, t0); err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	return out, tokens, north
}

// TestTakeRaceAcrossReplicas: anna and bo press "I'll go" on the same alert at once, each
// through another api replica, on SQLite and PostgreSQL: exactly one gets 200, the other
// 409 with "by" naming the winner, every round.
func TestTakeRaceAcrossReplicas(t *testing.T) {
	for name, dsn := range map[string]func() string{
		"sqlite":   func() string { return filepath.Join(t.TempDir(), "vagt.db") },
		"postgres": func() string { return stacktest.SharedPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			reps, tokens, _ := presenceReplicas(t, dsn(), 2)
			_, events := openStream(t, &fixture{tokens: tokens}, reps[1].url, "bo", "")
			post := func(rep replica, user, path string) (int, map[string]any) {
				req, _ := http.NewRequest("POST", rep.url+path, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[user])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return 0, nil
				}
				defer resp.Body.Close()
				var out map[string]any
				b, _ := io.ReadAll(resp.Body)
				_ = json.Unmarshal(b, &out)
				return resp.StatusCode, out
			}
			for round := range 10 {
				r, err := reps[0].store.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: "gw-0001", Seq: uint64(round + 1), Municipality: 766,
					Time: t0, Device: "btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0)
				if err != nil {
					t.Fatal(err)
				}
				path := fmt.Sprintf("/api/v1/alerts/%d/", r.Alert.ID)
				steps := []string{"take", "take"}
				if round%2 == 1 {
					steps[1] = "enroute" // take-and-go against take
				}
				codes := make([]int, 2)
				bodies := make([]map[string]any, 2)
				users := []string{"anna", "bo"}
				var wg sync.WaitGroup
				for i := range 2 {
					wg.Go(func() { codes[i], bodies[i] = post(reps[i], users[i], path+steps[i]) })
				}
				wg.Wait()
				won := -1
				for i := range 2 {
					if codes[i] == 200 {
						if won >= 0 {
							t.Fatalf("round %d: both won: %v", round, bodies)
						}
						won = i
					}
				}
				if won < 0 {
					t.Fatalf("round %d: nobody won: %v %v", round, codes, bodies)
				}
				lost := 1 - won
				e, _ := bodies[lost]["error"].(map[string]any)
				if codes[lost] != 409 || e["by"] != users[won] {
					t.Fatalf("round %d: loser %s got %d %v", round, users[lost], codes[lost], bodies[lost])
				}
				if as, _ := bodies[won]["assignee"].(map[string]any); as["name"] != users[won] {
					t.Fatalf("round %d: winner's alert %v", round, bodies[won])
				}
				// The other replica's stream tells bo who took it.
				for {
					ev := nextEvent(t, events, "the take")
					var d alerts.EventData
					if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
						t.Fatal(err)
					}
					if ev.name == "taken" && d.Alert.ID == r.Alert.ID {
						if d.Alert.Assignee == nil || d.Alert.Assignee.Name != users[won] {
							t.Fatalf("round %d: stream says %s", round, ev.data)
						}
						break
					}
				}
				if code, body := post(reps[won], users[won], path+"arrived"); code != 200 {
					t.Fatalf("round %d: arrive %d %v", round, code, body)
				}
				if _, err := reps[0].store.Resolve(t.Context(), r.Alert.ID, users[won], api.Scope{All: true}, alerts.OutcomeVisitedAllWell, "", t0.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
