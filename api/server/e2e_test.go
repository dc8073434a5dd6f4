package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

var t0 = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

// patience bounds every wait for something that must happen; it is not a latency target.
const patience = 60 * time.Second

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, patience, cond)
}

// stack is a running API against a real broker.
type stack struct {
	srv    *server.Server
	base   string
	clock  *api.ManualClock
	tokens map[string]string
	north  int64
	cancel context.CancelFunc
	done   chan error
}

func startAPI(t testing.TB, broker *localstack.Mosquitto, dsn, clientID string, clock *api.ManualClock) *stack {
	t.Helper()
	return startAPIURL(t, broker.URL(), dsn, clientID, clock)
}

func startAPIURL(t testing.TB, brokerURL, dsn, clientID string, clock *api.ManualClock) *stack {
	t.Helper()
	srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: dsn, Broker: brokerURL, ClientID: clientID,
		Tick: 20 * time.Millisecond, FeedPoll: 200 * time.Millisecond, StreamWriteTimeout: 5 * time.Second},
		server.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &stack{srv: srv, base: "http://" + srv.Addr(), clock: clock, tokens: map[string]string{}, cancel: cancel, done: make(chan error, 1)}
	go func() { st.done <- srv.Run(ctx) }()
	t.Cleanup(st.stop)
	waitFor(t, "the API to be ready", func() bool {
		resp, err := http.Get(st.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return st
}

func (st *stack) stop() {
	if st.cancel != nil {
		st.cancel()
		<-st.done
		st.cancel = nil
	}
}

// world registers a citizen behind gw-0042 in district Nord of Hedensted and issues tokens.
func (st *stack) world(t testing.TB) {
	t.Helper()
	ctx, s := t.Context(), st.srv.Store
	north, err := s.CreateDistrict(ctx, 766, "Nord")
	if err != nil {
		t.Fatal(err)
	}
	south, err := s.CreateDistrict(ctx, 766, "Syd")
	if err != nil {
		t.Fatal(err)
	}
	st.north = north
	cit, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen", Address: "Søndergade 4, 8722 Hedensted",
		KeyBoxNote: "key box by the back door", Contacts: []api.Contact{{Name: "Peter Jensen", Phone: "+45 20 30 40 50", Relation: "son"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateHome(ctx, "home-0042", north, cit); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterGateway(ctx, "gw-0042", "home-0042"); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]api.Principal{
		"anna":  {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
		"bo":    {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
		"sara":  {Role: api.RoleStaff, Municipality: 766, Districts: []int64{south}},
		"admin": {Role: api.RoleAdmin},
	} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		p.Name = name
		if _, err := s.IssueToken(ctx, p, hash, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		st.tokens[name] = tok
	}
	// Anna and Bo are on duty in Nord around the clock, with no backup: an alert waits for
	// its deadline while one of them listens (docs/alerts.md, "Rosters and escalation").
	if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: north, Shifts: roster.DayAndNight([]string{"anna", "bo"}, []string{"anna", "bo"}, roster.Backup{})},
		"admin", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// call does an API request as user and decodes the JSON answer into out (if not nil).
func (st *stack) call(t testing.TB, user, method, path, body string, out any) int {
	t.Helper()
	return apitest.Call(t, st.base, st.tokens[user], method, path, body, out)
}

// sseEvent is one server-sent event.
type sseEvent struct {
	ID   int64
	Name string
	Data alerts.EventData
}

// stream reads a user's SSE stream into a channel until the test ends.
func (st *stack) stream(t testing.TB, user string, lastID int64) <-chan sseEvent {
	t.Helper()
	return st.streamFrom(t, context.Background(), user, lastID)
}

// streamCtx is stream until parent is done (a console that closes).
func (st *stack) streamCtx(t testing.TB, parent context.Context, user string) <-chan sseEvent {
	t.Helper()
	return st.streamFrom(t, parent, user, 0)
}

func (st *stack) streamFrom(t testing.TB, parent context.Context, user string, lastID int64) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.base+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+st.tokens[user])
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", fmt.Sprint(lastID))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("stream: %v %v", err, resp)
	}
	out := make(chan sseEvent, 1000)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); resp.Body.Close(); wg.Wait() })
	// A stream counts as listening once a replica's beat has written it into the store; an
	// alarm before that finds its tier unheard and escalates at once (docs/alerts.md,
	// "Rosters and escalation"). Every test that opens a stream and then raises an alarm
	// means the stream to be listening, so the wait is here, once.
	waitFor(t, user+"'s stream beaten into the store", func() bool {
		users, err := st.srv.Store.ListeningUsers(ctx, time.Now().Add(-5*time.Second))
		return err == nil && slices.Contains(users, user)
	})
	wg.Go(func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				fmt.Sscan(line[4:], &ev.ID)
			case strings.HasPrefix(line, "event: "):
				ev.Name = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.Data)
			case line == "" && ev.ID != 0:
				out <- ev
				ev = sseEvent{}
			}
		}
	})
	return out
}

// next returns the next event on c that matches, failing on a closed stream.
func next(t testing.TB, c <-chan sseEvent, what string, match func(sseEvent) bool) sseEvent {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case ev, ok := <-c:
			if !ok {
				t.Fatalf("stream ended while waiting for %s", what)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// gateway publishes like a home gateway (QoS 1).
type gateway struct{ c mqtt.Client }

func newGateway(t testing.TB, broker string) *gateway {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("gw-test-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &gateway{c}
}

func (g *gateway) publish(t testing.TB, topic string, payload []byte) {
	t.Helper()
	if tok := g.c.Publish(topic, 1, false, payload); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

func (g *gateway) alarm(t testing.TB, a vagt.Alarm) {
	t.Helper()
	if a.Municipality == 0 {
		a.Municipality = 766
	}
	if a.Priority == 0 {
		a.Priority = a.Type.Priority()
	}
	b, err := vagt.EncodeAlarm(&a)
	if err != nil {
		t.Fatal(err)
	}
	g.publish(t, vagt.Topic(a.Gateway, vagt.LaneAlarm), b)
}

func (g *gateway) status(t testing.TB, s vagt.Status) {
	t.Helper()
	b, err := vagt.EncodeStatus(&s)
	if err != nil {
		t.Fatal(err)
	}
	g.publish(t, vagt.Topic(s.Gateway, vagt.LaneStatus), b)
}

func databases(testing.TB) map[string]func(t testing.TB) string {
	return map[string]func(t testing.TB) string{
		"sqlite":   func(t testing.TB) string { return filepath.Join(t.TempDir(), "vagt.db") },
		"postgres": func(t testing.TB) string { return stacktest.SharedPostgres(t) },
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// runServer runs srv until the test ends and waits until its lane (if any) is subscribed.
func runServer(t testing.TB, srv *server.Server) *server.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	if lane := srv.AlarmLane(); lane != nil {
		waitFor(t, "the lane to subscribe", lane.Connected)
	}
	return srv
}
