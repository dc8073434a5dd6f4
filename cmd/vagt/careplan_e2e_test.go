package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/gateway/zigbee"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// patience bounds every wait for something that must happen; it is not a latency target.
const patience = 60 * time.Second

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, patience, cond)
}

// carePlanWorld is a real API (SQLite) and a real gateway on a real platform Mosquitto,
// with a Zigbee2MQTT front door on the home's own Mosquitto.
type carePlanWorld struct {
	platform platformBroker
	cluster  bool // platform is the NATS cluster
	local    *localstack.Mosquitto
	api      string
	tokens   map[string]string
	z2m      mqtt.Client
	clock    *api.ManualClock // the gateway's
	gwCfg    gateway.Config
}

func (w *carePlanWorld) call(t *testing.T, user, method, path, body string, out any) int {
	t.Helper()
	return apitest.Call(t, w.api, w.tokens[user], method, path, body, out)
}

func (w *carePlanWorld) view(t *testing.T) careplan.View {
	t.Helper()
	var v careplan.View
	if code := w.call(t, "anna", "GET", "/api/v1/homes/home-care/config", "", &v); code != 200 {
		t.Fatalf("GET config: %d", code)
	}
	return v
}

func (w *carePlanWorld) put(t *testing.T, body string) careplan.View {
	t.Helper()
	var v careplan.View
	if code := w.call(t, "anna", "PUT", "/api/v1/homes/home-care/config", body, &v); code != 200 {
		t.Fatalf("PUT config %s: %d %+v", body, code, v)
	}
	return v
}

// runGateway starts the real gateway in-process until the returned stop is called.
func (w *carePlanWorld) runGateway(t *testing.T) (*gateway.Gateway, func()) {
	t.Helper()
	g, err := gateway.New(w.gwCfg, gateway.Deps{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(stop)
	// The Zigbee subscription is up once an availability message comes through.
	eventually(t, "the gateway's Zigbee subscription", func() bool {
		w.z2m.Publish("zigbee2mqtt/front_door/availability", 1, false, "online").Wait()
		s, _ := g.Snapshot().Zigbee.(zigbeeStats)
		return s.Messages > 0
	})
	return g, stop
}

type zigbeeStats = zigbee.Stats

// door opens or closes the front door and waits until the gateway's rules have seen it.
func (w *carePlanWorld) door(t *testing.T, g *gateway.Gateway, open bool) {
	t.Helper()
	before := g.Snapshot().Counters.Readings
	payload := `{"contact":true}`
	if open {
		payload = `{"contact":false}`
	}
	w.z2m.Publish("zigbee2mqtt/front_door", 1, false, payload).Wait()
	eventually(t, "the door reading", func() bool { return g.Snapshot().Counters.Readings > before })
}

func TestMain(m *testing.M) { stacktest.Main(m) }

// carePlanDatabases are the SQL stores the end-to-end test runs on.
func carePlanDatabases() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "vagt.db") },
		"postgres": func(t *testing.T) string { return stacktest.SharedPostgres(t) },
	}
}

// platformBroker is what the world needs of its platform broker: a Mosquitto, or the NATS
// cluster behind its balancer (Stop and Start then take all nodes down and up).
type platformBroker interface {
	URL() string
	Stop() error
	Start(context.Context) error
}

// startCarePlanWorld runs on a platform Mosquitto, or on platform when it is given.
func startCarePlanWorld(t *testing.T, dsn string, platform ...platformBroker) *carePlanWorld {
	w := &carePlanWorld{tokens: map[string]string{},
		// 20:30 in Copenhagen (CET): not night by the usual 22-07 window.
		clock: api.NewManualClock(time.Date(2026, 11, 23, 19, 30, 0, 0, time.UTC))}
	if len(platform) > 0 {
		w.platform = platform[0]
		_, w.cluster = w.platform.(*localstack.NATSCluster)
	} else {
		w.platform = stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	}
	w.local = stacktest.Mosquitto(t)

	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: dsn,
		Broker: w.platform.URL(), ClientID: "vagt-api-careplan", Tick: 50 * time.Millisecond, FeedPoll: 200 * time.Millisecond,
		ConfigRepublish: time.Hour}, server.Deps{})
	w.api = "http://" + srv.Addr()

	s := t.Context()
	north, err1 := srv.Store.CreateDistrict(s, 766, "Nord")
	south, err2 := srv.Store.CreateDistrict(s, 766, "Syd")
	if err := errJoin(err1, err2, srv.Store.CreateHome(s, "home-care", north, 0),
		srv.Store.RegisterGateway(s, "gw-care", "home-care"),
		srv.Store.RegisterDevice(s, "0x0d", "gw-care", vagt.TechDoorSensor, "front door")); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]api.Principal{
		"anna":  {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
		"sara":  {Role: api.RoleStaff, Municipality: 766, Districts: []int64{south}},
		"admin": {Role: api.RoleAdmin},
	} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		p.Name = name
		if _, err := srv.Store.IssueToken(s, p, hash, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		w.tokens[name] = tok
	}

	w.z2m = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(w.local.URL()).SetClientID("z2m"))
	if tok := w.z2m.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { w.z2m.Disconnect(100) })

	c := gateway.Defaults()
	c.Gateway, c.Municipality = "gw-care", 766
	c.Spool.Path = filepath.Join(t.TempDir(), "spool.db")
	c.Uplink.Broker, c.Zigbee.Broker = w.platform.URL(), w.local.URL()
	c.Uplink.Heartbeat, c.Uplink.MaxBackoff = gateway.Duration(time.Second), gateway.Duration(time.Second)
	c.StatusAddr = ""
	c.Home.Devices = []gateway.DeviceFile{{Device: "0x0d", Technology: vagt.TechDoorSensor, Zigbee: "front_door"}}
	c.Home.Rules.DoorAtNight = true
	w.gwCfg = c
	return w
}

func errJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
