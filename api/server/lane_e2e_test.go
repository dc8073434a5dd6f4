package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alarmlane"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// rawEvent is one server-sent event, lane events (which have no id) included.
type rawEvent struct{ id, name, data string }

// rawStream reads user's stream, every event, until the test ends.
func (st *stack) rawStream(t *testing.T, user string) <-chan rawEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.base+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+st.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("stream: %v %v", err, resp)
	}
	out := make(chan rawEvent, 100)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	go func() {
		defer close(done)
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev rawEvent
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
				ev = rawEvent{}
			}
		}
	}()
	return out
}

// nextLane returns the next lane event on c.
func nextLane(t *testing.T, c <-chan rawEvent, what string) alerts.LaneState {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case ev, ok := <-c:
			if !ok {
				t.Fatalf("stream ended while waiting for %s", what)
			}
			if ev.name != "lane" {
				continue
			}
			var st alerts.LaneState
			if err := json.Unmarshal([]byte(ev.data), &st); err != nil {
				t.Fatalf("lane event %q: %v", ev.data, err)
			}
			return st
		case <-timeout:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
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

func counterSum(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// startWithRegistry is startAPI with a registry the test reads.
func startWithRegistry(t *testing.T, broker *localstack.Mosquitto, dsn, clientID string) (*stack, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	clock := api.NewManualClock(t0)
	srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: dsn, Broker: broker.URL(), ClientID: clientID,
		Tick: 20 * time.Millisecond, FeedPoll: 200 * time.Millisecond, StreamWriteTimeout: 5 * time.Second},
		server.Deps{Clock: clock, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, srv)
	return &stack{srv: srv, base: "http://" + srv.Addr(), clock: clock, tokens: map[string]string{}}, reg
}

func readyz(t *testing.T, st *stack) (int, string) {
	t.Helper()
	resp, err := http.Get(st.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleHearsLaneDown: the broker stops under an open stream. Every open stream is
// told at once that alarms cannot arrive, /readyz and vagt_api_alarm_lane_subscribed say
// so; when the broker is back the streams are told so, and an alarm becomes an alert.
func TestConsoleHearsLaneDown(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	st, reg := startWithRegistry(t, broker, stacktest.SharedPostgres(t), "vagt-api-lanestate")
	st.world(t)
	anna, sara := st.rawStream(t, "anna"), st.rawStream(t, "sara")
	for _, c := range []<-chan rawEvent{anna, sara} {
		// The first lane event may still say "connecting" if the stream opened just as
		// the lane subscribed; the next one then says subscribed.
		if s := nextLane(t, c, "the lane state"); !s.Subscribed {
			if s.Reason != alarmlane.DownConnecting {
				t.Fatalf("lane not subscribed at the start: %+v", s)
			}
			if s := nextLane(t, c, "the lane subscribed"); !s.Subscribed {
				t.Fatalf("lane not subscribed after connecting: %+v", s)
			}
		}
	}
	if got := gaugeValue(t, reg, "vagt_api_alarm_lane_subscribed"); got != 1 {
		t.Fatalf("vagt_api_alarm_lane_subscribed = %v with the broker up", got)
	}

	if err := broker.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []<-chan rawEvent{anna, sara} {
		if s := nextLane(t, c, "the lane going down"); s.Subscribed || s.Reason != alarmlane.DownBroker {
			t.Fatalf("after the broker stopped: %+v", s)
		}
	}
	if code, body := readyz(t, st); code != http.StatusServiceUnavailable || !strings.Contains(body, "alarm lane not subscribed") {
		t.Fatalf("/readyz with the broker down: %d %s", code, body)
	}
	if got := gaugeValue(t, reg, "vagt_api_alarm_lane_subscribed"); got != 0 {
		t.Fatalf("vagt_api_alarm_lane_subscribed = %v with the broker down", got)
	}

	if err := broker.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []<-chan rawEvent{anna, sara} {
		if s := nextLane(t, c, "the lane back"); !s.Subscribed {
			t.Fatalf("after the broker came back: %+v", s)
		}
	}
	waitFor(t, "readiness", func() bool { code, _ := readyz(t, st); return code == http.StatusOK })
	gw := newGateway(t, broker.URL())
	gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
	timeout := time.After(patience)
	for {
		select {
		case ev := <-anna:
			if ev.name == "new" {
				return
			}
		case <-timeout:
			t.Fatal("no alert after the lane came back")
		}
	}
}

// TestSeqReuseThroughTheLane: the reproduction through the real broker on both
// stores: a panic as gw-x seq 500, then a smoke alarm as gw-x seq 500. Before, the smoke
// alarm was committed as a redelivery: no alert, no log line, nothing counted.
func TestSeqReuseThroughTheLane(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			st, reg := startWithRegistry(t, broker, db(t), "vagt-api-reuse-"+name)
			gw := newGateway(t, broker.URL())
			gw.alarm(t, vagt.Alarm{Gateway: "gw-x", Seq: 500, Time: t0, Device: "bu-1:btn", Type: vagt.AlarmPanic})
			gw.alarm(t, vagt.Alarm{Gateway: "gw-x", Seq: 500, Time: t0.Add(time.Minute), Device: "smoke-1", Type: vagt.AlarmSmoke})
			gw.alarm(t, vagt.Alarm{Gateway: "gw-x", Seq: 500, Time: t0.Add(time.Minute), Device: "smoke-1", Type: vagt.AlarmSmoke}) // a redelivery
			waitFor(t, "both alarms committed", func() bool {
				return counterSum(t, reg, "vagt_api_lane_committed_total", map[string]string{"lane": "alarm"}) == 3
			})
			list, err := st.srv.Store.ListAlerts(t.Context(), api.Scope{All: true}, alerts.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			types := map[vagt.AlarmType]int{}
			for _, a := range list {
				types[a.Type] += a.Count
			}
			if len(list) != 2 || types[vagt.AlarmPanic] != 1 || types[vagt.AlarmSmoke] != 1 {
				t.Fatalf("alerts: %+v", list)
			}
			if got := counterSum(t, reg, "vagt_api_lane_flagged_total", map[string]string{"reason": alarmlane.FlagSeqReused}); got != 1 {
				t.Fatalf("seq reuse counted %v times, want 1", got)
			}
		})
	}
}

// TestConsoleHearsStoreDown: with the broker up but PostgreSQL stopped, alarms cannot become
// alerts either: the open stream is told (reason store), /readyz says so, and when the
// database is back the stream is told that too.
func TestConsoleHearsStoreDown(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	pg := stacktest.Postgres(t)
	st, reg := startWithRegistry(t, broker, pg.DSN(), "vagt-api-storestate")
	st.world(t)
	anna := st.rawStream(t, "anna")
	waitFor(t, "the lane subscribed", func() bool { return gaugeValue(t, reg, "vagt_api_alarm_lane_subscribed") == 1 })
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	for {
		s := nextLane(t, anna, "the store going down")
		if !s.Subscribed {
			if s.Reason != alarmlane.DownStore {
				t.Fatalf("with the database down: %+v", s)
			}
			break
		}
	}
	if code, body := readyz(t, st); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database down: %d %s", code, body)
	}
	if got := gaugeValue(t, reg, "vagt_api_alarm_lane_subscribed"); got != 0 {
		t.Fatalf("vagt_api_alarm_lane_subscribed = %v with the database down", got)
	}
	if err := pg.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := nextLane(t, anna, "the store back"); !s.Subscribed {
		t.Fatalf("after the database came back: %+v", s)
	}
}
