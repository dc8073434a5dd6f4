package downlink_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/downlink"
	"github.com/vagt-dk/vagt/api/mqttpub"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

var t0 = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

const waitFor = 20 * time.Second

// gatewaySide subscribes to one gateway's downlink as the gateway does (QoS 1) and
// decodes what arrives.
type gatewaySide struct {
	ch chan vagt.Downlink
}

func subscribe(t *testing.T, broker string, gw vagt.GatewayID) *gatewaySide {
	t.Helper()
	g := &gatewaySide{ch: make(chan vagt.Downlink, 100)}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(string(gw)).SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond))
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(vagt.Topic(gw, vagt.LaneDownlink), 1, func(_ mqtt.Client, m mqtt.Message) {
		d, err := vagt.DecodeDownlink(m.Payload())
		if err != nil {
			t.Errorf("downlink does not decode: %v", err)
			return
		}
		g.ch <- d
	})
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return g
}

func (g *gatewaySide) next(t *testing.T, what string) vagt.Downlink {
	t.Helper()
	select {
	case d := <-g.ch:
		return d
	case <-time.After(waitFor):
		t.Fatalf("%s did not arrive", what)
	}
	return vagt.Downlink{}
}

func start(t *testing.T, store *sqlstore.Store, broker string) *downlink.Notifier {
	t.Helper()
	pub := mqttpub.New(mqttpub.Options{Name: "downlink", Broker: broker, ClientID: "vagt-api-test-downlink"})
	n := downlink.New(store, pub, downlink.Options{Poll: 50 * time.Millisecond, Retry: 50 * time.Millisecond})
	store.OnCommit(n.Wake)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { pub.Run(ctx) })
	wg.Go(func() { n.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-n.Started():
	case <-time.After(waitFor):
		t.Fatal("notifier did not start")
	}
	return n
}

func stores(t *testing.T) map[string]func(t *testing.T) *sqlstore.Store {
	open := func(t *testing.T, dsn string) *sqlstore.Store {
		s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite":   func(t *testing.T) *sqlstore.Store { return open(t, filepath.Join(t.TempDir(), "vagt.db")) },
		"postgres": func(t *testing.T) *sqlstore.Store { return open(t, stacktest.SharedPostgres(t)) },
	}
}

var all = api.Scope{All: true}

// A press becomes an alert: the gateway hears "received" naming its event; a repeat folded
// into the alert names both; staff acknowledge and resolve: the gateway hears each, and
// another gateway hears nothing.
func TestGatewayHearsReceivedAcknowledgedResolved(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			broker := stacktest.Mosquitto(t)
			store := open(t)
			gw := subscribe(t, broker.URL(), "gw-0042")
			other := subscribe(t, broker.URL(), "gw-0043")
			start(t, store, broker.URL())

			ctx := t.Context()
			res, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0042", Seq: 1001, Municipality: 766, Time: t0,
				Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0.Add(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			d := gw.next(t, "received")
			if d.State != vagt.HelpReceived || !slices.Equal(d.Events, []uint64{1001}) || d.Alert != uint64(res.Alert.ID) || d.Gateway != "gw-0042" {
				t.Fatalf("received: %+v", d)
			}
			// An exact redelivery changes nothing and tells nothing; a repeat folds in.
			for _, at := range []struct {
				seq  uint64
				time time.Time
			}{{1001, t0}, {1005, t0.Add(5 * time.Second)}} {
				if _, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0042", Seq: at.seq, Municipality: 766, Time: at.time,
					Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0.Add(6*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			if d := gw.next(t, "received for the repeat"); d.State != vagt.HelpReceived || !slices.Equal(d.Events, []uint64{1001, 1005}) {
				t.Fatalf("repeat: %+v", d)
			}
			if _, err := store.Ack(ctx, res.Alert.ID, "anna", all, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if d := gw.next(t, "acknowledged"); d.State != vagt.HelpAcknowledged || !slices.Equal(d.Events, []uint64{1001, 1005}) || !d.Time.Equal(t0.Add(time.Minute)) {
				t.Fatalf("acknowledged: %+v", d)
			}
			// A press on the acknowledged alert (nobody has arrived) opens it again (issue 21):
			// the home hears "received" until staff acknowledge it again — not that help is
			// confirmed while the alert is open. The gateway keeps the earlier presses'
			// "acknowledged" (states only move forward).
			if _, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0042", Seq: 1009, Municipality: 766, Time: t0.Add(2 * time.Minute),
				Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if d := gw.next(t, "received for the later press"); d.State != vagt.HelpReceived || !slices.Equal(d.Events, []uint64{1001, 1005, 1009}) {
				t.Fatalf("press after the ack: %+v", d)
			}
			if _, err := store.Ack(ctx, res.Alert.ID, "anna", all, t0.Add(3*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if d := gw.next(t, "acknowledged again"); d.State != vagt.HelpAcknowledged || !slices.Equal(d.Events, []uint64{1001, 1005, 1009}) {
				t.Fatalf("acknowledged again: %+v", d)
			}
			if _, err := store.Resolve(ctx, res.Alert.ID, "anna", all, alerts.OutcomeVisitedAllWell, "", t0.Add(20*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if d := gw.next(t, "resolved"); d.State != vagt.HelpResolved {
				t.Fatalf("resolved: %+v", d)
			}
			// gw-0043's first message is its own alarm's: nothing of gw-0042's reached it.
			if _, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0043", Seq: 7, Municipality: 766, Time: t0,
				Device: "bu-3:btn", Type: vagt.AlarmFall, Priority: vagt.PriorityCritical}, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if d := other.next(t, "gw-0043's received"); d.Gateway != "gw-0043" || !slices.Equal(d.Events, []uint64{7}) {
				t.Fatalf("gw-0043 got %+v", d)
			}
			select {
			case d := <-gw.ch:
				t.Fatalf("gw-0042 got one more: %+v", d)
			default:
			}
		})
	}
}

// With the broker down, the news waits: the cursor does not pass an event the broker has
// not acknowledged, so "received" arrives once the broker is back.
func TestNewsWaitsForTheBroker(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	store := stores(t)["sqlite"](t)
	gw := subscribe(t, broker.URL(), "gw-0042")
	start(t, store, broker.URL())
	if err := broker.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: "gw-0042", Seq: 44, Municipality: 766, Time: t0,
		Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0); err != nil {
		t.Fatal(err)
	}
	if err := broker.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := gw.next(t, "received after the broker came back"); d.State != vagt.HelpReceived || !slices.Equal(d.Events, []uint64{44}) {
		t.Fatalf("%+v", d)
	}
}

// An alarm committed after Prime but before Run (the api's lane consumes what queued while
// it was down as soon as it starts) is told when Run starts.
func TestCommittedBeforeRunIsTold(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	store := stores(t)["sqlite"](t)
	gw := subscribe(t, broker.URL(), "gw-0042")
	pub := mqttpub.New(mqttpub.Options{Name: "downlink", Broker: broker.URL(), ClientID: "vagt-api-test-downlink"})
	n := downlink.New(store, pub, downlink.Options{Poll: 50 * time.Millisecond, Retry: 50 * time.Millisecond})
	if err := n.Prime(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: "gw-0042", Seq: 77, Municipality: 766, Time: t0,
		Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { pub.Run(ctx) })
	wg.Go(func() { n.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	if d := gw.next(t, "received of the alarm committed before Run"); !slices.Equal(d.Events, []uint64{77}) {
		t.Fatalf("%+v", d)
	}
}

// A platform-made alert (gateway offline) holds no press: nothing is told.
func TestOfflineAlertTellsNothing(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	store := stores(t)["sqlite"](t)
	gw := subscribe(t, broker.URL(), "gw-0042")
	start(t, store, broker.URL())
	ctx := t.Context()
	if err := store.RecordStatus(ctx, &vagt.Status{Gateway: "gw-0042", Online: false, Time: t0, Municipality: 766}, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := store.DetectOffline(ctx, t0.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("offline alerts raised: %d, %v", n, err)
	}
	if _, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0042", Seq: 9, Municipality: 766, Time: t0,
		Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The first message is the panic's: whatever the offline status did said nothing.
	if d := gw.next(t, "the panic's received"); !slices.Equal(d.Events, []uint64{9}) {
		t.Fatalf("%+v", d)
	}
}
