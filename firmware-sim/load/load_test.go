package load_test

import (
	"context"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// received is what a subscriber saw, decoded and checked.
type received struct {
	mu       sync.Mutex
	per      map[string]load.GatewayCount
	points   map[string]bool // gw/dev/kind/time: every reading must be a distinct point
	problems []string
}

func (r *received) add(topic string, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gw, lane, err := vagt.ParseTopic(topic)
	if err != nil {
		r.problems = append(r.problems, err.Error())
		return
	}
	c := r.per[string(gw)]
	switch lane {
	case vagt.LaneTelemetry:
		b, err := vagt.DecodeBatch(payload)
		if err == nil {
			err = vagt.CheckGateway(gw, b.Gateway)
		}
		if err != nil {
			r.problems = append(r.problems, err.Error())
			return
		}
		for _, rd := range b.Readings {
			key := string(gw) + "/" + string(rd.Device) + "/" + rd.Kind.String() + "/" + rd.Time.String()
			if r.points[key] {
				r.problems = append(r.problems, "duplicate point "+key)
			}
			r.points[key] = true
		}
		c.Batches++
		c.Readings += uint64(len(b.Readings))
	case vagt.LaneAlarm:
		a, err := vagt.DecodeAlarm(payload)
		if err == nil {
			err = vagt.CheckGateway(gw, a.Gateway)
		}
		if err != nil {
			r.problems = append(r.problems, err.Error())
			return
		}
		c.Alarms++
	}
	r.per[string(gw)] = c
}

// matches waits up to a minute for what report r says was sent, then checks that the
// subscriber received exactly that, per gateway, with no problem.
func (got *received) matches(t *testing.T, r load.Report) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got.mu.Lock()
		var n uint64
		for _, c := range got.per {
			n += c.Batches + c.Alarms
		}
		got.mu.Unlock()
		if n >= r.Batches+r.Alarms || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	for _, p := range got.problems {
		t.Error(p)
	}
	if len(got.per) != len(r.PerGateway) {
		t.Errorf("received from %d gateways, report has %d", len(got.per), len(r.PerGateway))
	}
	for gw, want := range r.PerGateway {
		if got.per[gw] != want {
			t.Errorf("gateway %s: received %+v, report %+v", gw, got.per[gw], want)
		}
	}
}

// TestReportMatchesWhatWasPublished: a subscriber receives exactly what the report says,
// per gateway, as valid CBOR whose gateway matches its topic, with no reading repeated.
func TestReportMatchesWhatWasPublished(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{})
	got := &received{per: map[string]load.GatewayCount{}, points: map[string]bool{}}
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("checker").
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got.add(m.Topic(), m.Payload()) }))
	if tok := sub.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe("vagt/v1/gw/#", 1, nil); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	r, err := load.Run(context.Background(), load.Config{Broker: broker.URL(), Homes: 7, Sensors: 11, Samples: 3, Batches: 5, AlarmEvery: 2, Conns: 3})
	if err != nil {
		t.Fatal(err)
	}
	// An alarm every second batch, staggered by home: homes 0, 2, 4, 6 after batches 2 and
	// 4, homes 1, 3, 5 after batches 1, 3 and 5: 4×2 + 3×3 = 17.
	if r.Gateways != 7 || r.Batches != 35 || r.Readings != 35*33 || r.Alarms != 17 || r.Failed != 0 {
		t.Fatalf("report %+v, want 7 gateways, 35 batches, %d readings, 17 alarms", r, 35*33)
	}
	got.matches(t, r)
}

// TestPreparedRunBeginsAfterReady: with Prepare, nothing is published before Ready has
// returned (a marker the test publishes inside Ready is the first message the subscriber
// sees), Ready is called once, and the run sends what an unprepared one does.
func TestPreparedRunBeginsAfterReady(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{})
	got := &received{per: map[string]load.GatewayCount{}, points: map[string]bool{}}
	var (
		firstMu sync.Mutex
		first   string
	)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("checker").SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			firstMu.Lock()
			if first == "" {
				first = m.Topic()
			}
			firstMu.Unlock()
			if m.Topic() != "marker" {
				got.add(m.Topic(), m.Payload())
			}
		}))
	if tok := sub.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	for _, topic := range []string{"vagt/v1/gw/#", "marker"} {
		if tok := sub.Subscribe(topic, 1, nil); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
	}
	marker := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("marker"))
	if tok := marker.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer marker.Disconnect(100)

	readies := 0
	r, err := load.Run(context.Background(), load.Config{Broker: broker.URL(), Homes: 7, Sensors: 11, Samples: 3, Batches: 5, AlarmEvery: 2, Conns: 3,
		Prepare: true, Ready: func() {
			readies++
			if tok := marker.Publish("marker", 1, false, []byte("ready")); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
				t.Errorf("marker: %v", tok.Error())
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if readies != 1 {
		t.Errorf("Ready called %d times, want once", readies)
	}
	if r.Gateways != 7 || r.Batches != 35 || r.Readings != 35*33 || r.Alarms != 17 || r.Failed != 0 {
		t.Fatalf("report %+v, want 7 gateways, 35 batches, %d readings, 17 alarms (as unprepared)", r, 35*33)
	}
	got.matches(t, r)
	firstMu.Lock()
	defer firstMu.Unlock()
	if first != "marker" {
		t.Errorf("first message on %q: published before Ready returned", first)
	}
}

func TestConfigRejected(t *testing.T) {
	for _, c := range []load.Config{
		{Homes: 1, Sensors: 1, Batches: 1},                                                                    // no broker
		{Broker: "tcp://127.0.0.1:1", Homes: 0, Sensors: 1, Batches: 1},                                       // no homes
		{Broker: "tcp://127.0.0.1:1", Homes: 1, Sensors: 1},                                                   // runs forever
		{Broker: "tcp://127.0.0.1:1", Homes: 1, Sensors: 100, Samples: 51, Batches: 1},                        // over a batch
		{Broker: "tcp://127.0.0.1:1", Homes: 1, Sensors: 1, Duration: time.Second, Prepare: true},             // prepare what?
		{Broker: "tcp://127.0.0.1:1", Homes: 1, Sensors: 1, Batches: 1, Interval: time.Second, Prepare: true}, // prepared, then paced
	} {
		if _, err := load.Run(context.Background(), c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
