package downlink_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/downlink"
	"github.com/vagt-dk/vagt/api/mqttpub"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// qos0Gateway is a gateway with QoS 0 lanes (docs/gateway.md, "Lane QoS"): a persistent
// session, but the broker queues nothing for it while it is away.
type qos0Gateway struct {
	t      *testing.T
	broker string
	gw     vagt.GatewayID
	c      mqtt.Client
	ch     chan vagt.Downlink
}

func (g *qos0Gateway) connect() {
	g.t.Helper()
	g.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(g.broker).SetClientID(string(g.gw)).SetCleanSession(false))
	if tok := g.c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		g.t.Fatalf("connect: %v", tok.Error())
	}
	tok := g.c.Subscribe(vagt.Topic(g.gw, vagt.LaneDownlink), 0, func(_ mqtt.Client, m mqtt.Message) {
		d, err := vagt.DecodeDownlink(m.Payload())
		if err != nil {
			g.t.Errorf("downlink does not decode: %v", err)
			return
		}
		g.ch <- d
	})
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		g.t.Fatalf("subscribe: %v", tok.Error())
	}
}

func (g *qos0Gateway) next(what string) vagt.Downlink {
	g.t.Helper()
	select {
	case d := <-g.ch:
		return d
	case <-time.After(waitFor): // a bound, not a target
		g.t.Fatalf("%s did not arrive", what)
	}
	return vagt.Downlink{}
}

// A gateway with QoS 0 lanes is away while staff acknowledge its alarm: the downlink is
// published (a platform-side observer sees it) and reaches nobody. When the gateway is
// back online, its online status makes the api tell it again: "acknowledged" arrives.
// Another gateway back online with nothing of its own changed is told nothing, and costs
// no store read (the note of each gateway's latest change: outcome "nothing").
func TestGatewayBackOnlineToldWhatItMissed(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			broker := stacktest.Mosquitto(t)
			store := open(t)
			ctx := t.Context()
			watch := &gatewaySide{ch: make(chan vagt.Downlink, 100)}
			obs := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("observer"))
			if tok := obs.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			defer obs.Disconnect(0)
			if tok := obs.Subscribe(vagt.Topic("gw-0042", vagt.LaneDownlink), 1, func(_ mqtt.Client, m mqtt.Message) {
				if d, err := vagt.DecodeDownlink(m.Payload()); err == nil {
					watch.ch <- d
				}
			}); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}

			reg := prometheus.NewRegistry()
			pub := mqttpub.New(mqttpub.Options{Name: "downlink", Broker: broker.URL(), ClientID: "vagt-api-test-downlink"})
			n := downlink.New(store, pub, downlink.Options{Poll: 50 * time.Millisecond, Retry: 50 * time.Millisecond,
				Clock: fixedClock(t0.Add(-time.Hour)), Registerer: reg})
			store.OnCommit(n.Wake)
			runCtx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { pub.Run(runCtx) })
			wg.Go(func() { n.Run(runCtx) })
			defer func() { cancel(); wg.Wait() }()
			<-n.Started()

			status := func(gw vagt.GatewayID, online bool, at time.Time) sqlstore.StatusSeen {
				t.Helper()
				seen, err := store.RecordStatusSeen(ctx, &vagt.Status{Gateway: gw, Municipality: 766, Online: online, Time: at}, at)
				if err != nil {
					t.Fatal(err)
				}
				return seen
			}
			gw := &qos0Gateway{t: t, broker: broker.URL(), gw: "gw-0042", ch: make(chan vagt.Downlink, 100)}
			gw.connect()
			status("gw-0042", true, t0)
			res, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0042", Seq: 1001, Municipality: 766, Time: t0,
				Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if d := gw.next("received"); d.State != vagt.HelpReceived {
				t.Fatalf("received: %+v", d)
			}
			watch.next(t, "received, at the observer")

			gw.c.Disconnect(100) // away: its session stays, with a QoS 0 subscription
			status("gw-0042", false, t0.Add(time.Minute))
			if _, err := store.Ack(ctx, res.Alert.ID, "anna", all, t0.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if d := watch.next(t, "acknowledged, at the observer"); d.State != vagt.HelpAcknowledged {
				t.Fatalf("observer: %+v", d)
			}

			gw.connect()
			seen := status("gw-0042", true, t0.Add(10*time.Minute))
			if !seen.Previous.Equal(t0) {
				t.Fatalf("previous online %s, want %s", seen.Previous, t0)
			}
			n.RetellGateway("gw-0042", seen.Previous, t0.Add(10*time.Minute))
			d := gw.next("acknowledged, told again")
			if d.State != vagt.HelpAcknowledged || !slices.Equal(d.Events, []uint64{1001}) || d.Alert != uint64(res.Alert.ID) {
				t.Fatalf("told again: %+v", d)
			}
			for deadline := time.Now().Add(waitFor); retells(t, reg, "told") != 1; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) { // counted just after the publish: a bound, not a target
					t.Fatalf("gateway retells told: %v, want 1", retells(t, reg, "told"))
				}
			}

			// gw-0043 comes and goes with nothing of its own: told nothing, no read.
			status("gw-0043", true, t0)
			seen = status("gw-0043", true, t0.Add(10*time.Minute))
			n.RetellGateway("gw-0043", seen.Previous, t0.Add(10*time.Minute))
			if got := retells(t, reg, "nothing"); got != 1 {
				t.Fatalf("gateway retells with nothing to tell: %v, want 1 (the fast path, at once)", got)
			}
		})
	}
}

// retells is vagt_api_downlink_gateway_retells_total{outcome}.
func retells(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vagt_api_downlink_gateway_retells_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no vagt_api_downlink_gateway_retells_total{outcome=%q}", outcome)
	return 0
}

// The note of each gateway's news reaches back before the notifier started (an api that
// restarts): a gateway with nothing new since its previous status takes the fast path at
// once — before Run even runs, so no store read can have answered — and a gateway whose
// alert changed while the api was down is still told.
func TestGatewayRetellNoteReachesBeforeStart(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	store := stores(t)["sqlite"](t)
	ctx := t.Context()
	res, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0042", Seq: 7, Municipality: 766, Time: t0,
		Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Ack(ctx, res.Alert.ID, "anna", all, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	gw := &qos0Gateway{t: t, broker: broker.URL(), gw: "gw-0042", ch: make(chan vagt.Downlink, 100)}
	gw.connect()

	reg := prometheus.NewRegistry()
	pub := mqttpub.New(mqttpub.Options{Name: "downlink", Broker: broker.URL(), ClientID: "vagt-api-test-downlink"})
	n := downlink.New(store, pub, downlink.Options{Poll: 50 * time.Millisecond, Retry: 50 * time.Millisecond,
		Clock: fixedClock(t0.Add(5 * time.Minute)), Registerer: reg}) // the api starts at t0+5m
	if err := n.Prime(ctx); err != nil {
		t.Fatal(err)
	}
	// gw-0043 was heard at t0+4m and has nothing: the note, reaching back 10 min, says so.
	n.RetellGateway("gw-0043", t0.Add(4*time.Minute), t0.Add(6*time.Minute))
	if got := retells(t, reg, "nothing"); got != 1 {
		t.Fatalf("retells with nothing to tell before Run: %v, want 1 (the note's fast path)", got)
	}
	// gw-0042 was last heard at t0+1m: the ack at t0+2m is news, told once Run runs.
	n.RetellGateway("gw-0042", t0.Add(time.Minute), t0.Add(6*time.Minute))
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { pub.Run(runCtx) })
	wg.Go(func() { n.Run(runCtx) })
	defer func() { cancel(); wg.Wait() }()
	if d := gw.next("acknowledged, committed before the api started, told again"); d.State != vagt.HelpAcknowledged || !slices.Equal(d.Events, []uint64{7}) {
		t.Fatalf("told: %+v", d)
	}
}
