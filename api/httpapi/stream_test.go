package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/httpapi"
)

// sse is one server-sent event as read off the wire.
type sse struct{ id, name, data string }

// openStream connects user's stream at base (f.url unless given) and returns its events.
func openStream(t *testing.T, f *fixture, base, user, lastID string) (*http.Response, <-chan sse) {
	t.Helper()
	if base == "" {
		base = f.url
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	out := make(chan sse, 100)
	if resp.StatusCode != http.StatusOK {
		close(out)
		return resp, out
	}
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			case line == "" && ev.name != "":
				out <- ev
				ev = sse{}
			}
		}
	}()
	return resp, out
}

func nextEvent(t *testing.T, c <-chan sse, what string) sse {
	t.Helper()
	select {
	case ev, ok := <-c:
		if !ok {
			t.Fatalf("stream ended before %s", what)
		}
		return ev
	case <-time.After(time.Minute): // a bound, not a target
		t.Fatalf("gave up waiting for %s", what)
	}
	return sse{}
}

// A client that resumes from an id the store never reached (a restored database, a move
// from SQLite to PostgreSQL) is told to reload and then gets the live events: before, it
// got nothing at all.
func TestStreamLastEventIDAheadOfStore(t *testing.T) {
	f := newFixture(t) // the log holds one event (id 1)
	_, events := openStream(t, f, "", "anna", "1000000")
	reset := nextEvent(t, events, "the reset event")
	if reset.name != "reset" || reset.id != "1" {
		t.Fatalf("first event %+v, want reset with id 1", reset)
	}
	var body struct {
		LastEventID int64 `json:"last_event_id"`
	}
	if err := json.Unmarshal([]byte(reset.data), &body); err != nil || body.LastEventID != 1 {
		t.Fatalf("reset data %q: %v", reset.data, err)
	}
	f.waitClients(t, 1, "the stream to subscribe")
	if _, err := f.store.AddNote(t.Context(), f.alert, "anna", api.Scope{All: true}, "live", t0); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, events, "the live event"); ev.name != "updated" || ev.id != "2" {
		t.Fatalf("live event %+v, want updated with id 2", ev)
	}
}

// A resume at or below the newest event gets no reset.
func TestStreamNoResetWhenBehind(t *testing.T) {
	f := newFixture(t)
	_, events := openStream(t, f, "", "anna", "1")
	f.waitClients(t, 1, "the stream to subscribe")
	if _, err := f.store.AddNote(t.Context(), f.alert, "anna", api.Scope{All: true}, "live", t0); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, events, "the live event"); ev.name != "updated" || ev.id != "2" {
		t.Fatalf("got %+v", ev)
	}
}

// Every open stream hears at once when the alarm lane goes down and comes back, whatever
// its scope; a new stream hears the state first.
func TestStreamCarriesLaneState(t *testing.T) {
	f := newFixture(t)
	f.feed.SetLane(alerts.LaneState{Subscribed: true, Since: t0})
	_, anna := openStream(t, f, "", "anna", "")
	_, sara := openStream(t, f, "", "sara", "")
	for _, c := range []<-chan sse{anna, sara} {
		if ev := nextEvent(t, c, "the lane state"); ev.name != "lane" || ev.id != "" || !strings.Contains(ev.data, `"subscribed":true`) {
			t.Fatalf("first event %+v", ev)
		}
	}
	f.waitClients(t, 2, "both streams to subscribe")
	f.feed.SetLane(alerts.LaneState{Subscribed: false, Reason: "broker", Since: t0.Add(time.Minute)})
	for _, c := range []<-chan sse{anna, sara} {
		ev := nextEvent(t, c, "the lane going down")
		var st alerts.LaneState
		if err := json.Unmarshal([]byte(ev.data), &st); err != nil || ev.name != "lane" || st.Subscribed || st.Reason != "broker" {
			t.Fatalf("got %+v (%v)", ev, err)
		}
	}
	_, late := openStream(t, f, "", "anna", "")
	if ev := nextEvent(t, late, "the lane state"); ev.name != "lane" || !strings.Contains(ev.data, `"subscribed":false`) {
		t.Fatalf("a new stream first heard %+v", ev)
	}
	f.feed.SetLane(alerts.LaneState{Subscribed: true, Since: t0.Add(2 * time.Minute)})
	for _, c := range []<-chan sse{anna, sara, late} {
		if ev := nextEvent(t, c, "the lane back"); ev.name != "lane" || !strings.Contains(ev.data, `"subscribed":true`) {
			t.Fatalf("got %+v", ev)
		}
	}
}

// Streams are capped per principal and in total: past the cap, 429 with Retry-After; a
// closed stream frees its place. Before, 3,000 streams of one token were all accepted.
func TestStreamCaps(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: f.store, Auth: f.store, Feed: f.feed,
		Clock: api.NewManualClock(t0), StreamWriteTimeout: time.Second, MaxStreams: 3, MaxStreamsPerPrincipal: 2}))
	t.Cleanup(srv.Close)
	refused := func(user, what string) {
		t.Helper()
		resp, _ := openStream(t, f, srv.URL, user, "")
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: status %d, Retry-After %q", what, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	accepted := func(user, what string) (closeIt func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/alerts/stream", nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", what, err, resp)
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		return func() { cancel(); resp.Body.Close() }
	}
	first := accepted("anna", "anna's first")
	accepted("anna", "anna's second")
	refused("anna", "anna's third")
	accepted("sara", "sara's first")
	refused("sara", "sara's second, past the total")
	first()
	// The place is freed once the handler has returned; retry until it has.
	deadline := time.Now().Add(time.Minute)
	for {
		resp, _ := openStream(t, f, srv.URL, "sara", "")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed stream never freed its place")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.counterSum(t, "vagt_api_stream_refused_total"); got != 0 {
		t.Fatalf("the fixture's registry counted %v refusals of another server", got)
	}
}

// counterSum sums a counter family from the fixture's registry (0 when absent).
func (f *fixture) counterSum(t testing.TB, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// A client that resumes from an id the log does not hold, below the newest (a restored
// store whose ids were moved past a gap, sqlstore.SkipEventIDs, and which wrote events
// since), is told to reload: before, it resumed from that id and never got the events the
// restored log wrote below it.
func TestStreamLastEventIDNotInLog(t *testing.T) {
	f := newFixture(t) // the log holds one event (id 1)
	next, err := f.store.SkipEventIDs(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AddNote(t.Context(), f.alert, "anna", api.Scope{All: true}, "after the restore", t0); err != nil {
		t.Fatal(err)
	}
	_, events := openStream(t, f, "", "anna", "50")
	reset := nextEvent(t, events, "the reset event")
	if want := strconv.FormatInt(next, 10); reset.name != "reset" || reset.id != want || !strings.Contains(reset.data, `"not_in_store"`) {
		t.Fatalf("first event %+v, want reset with id %s", reset, want)
	}
	f.waitClients(t, 1, "the stream to subscribe")
	if _, err := f.store.AddNote(t.Context(), f.alert, "anna", api.Scope{All: true}, "live", t0); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, events, "the live event"); ev.name != "updated" || ev.id != strconv.FormatInt(next+1, 10) {
		t.Fatalf("live event %+v, want updated with id %d", ev, next+1)
	}
}
