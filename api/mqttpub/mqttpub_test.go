package mqttpub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/api/mqttpub"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// TestPublisher: a publish before the broker is reached fails at once (the caller retries);
// once connected, the config lane's publisher retains and the downlink's does not.
func TestPublisher(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	retained := mqttpub.New(mqttpub.Options{Name: "careplan", Broker: broker.URL(), ClientID: "pub-retained", Retained: true})
	plain := mqttpub.New(mqttpub.Options{Name: "downlink", Broker: broker.URL(), ClientID: "pub-plain"})
	if err := plain.Publish(t.Context(), "t/plain", []byte("x")); !errors.Is(err, mqttpub.ErrNotConnected) {
		t.Fatalf("publish before Run: %v, want ErrNotConnected", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go retained.Run(ctx)
	go plain.Run(ctx)
	for _, p := range []struct {
		pub   *mqttpub.Publisher
		topic string
	}{{retained, "t/retained"}, {plain, "t/plain"}} {
		stacktest.WaitFor(t, "a PUBACK", time.Minute, func() bool { return p.pub.Publish(t.Context(), p.topic, []byte("x")) == nil })
	}
	got := make(chan string, 4)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("late-reader"))
	if tok := sub.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(250)
	if tok := sub.Subscribe("t/#", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() }); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	select {
	case topic := <-got:
		if topic != "t/retained" {
			t.Fatalf("a late subscriber got %s, want only the retained t/retained", topic)
		}
	case <-time.After(time.Minute):
		t.Fatal("the retained message did not reach a late subscriber")
	}
	select {
	case topic := <-got:
		t.Fatalf("a late subscriber also got %s: the downlink must not be retained", topic)
	case <-time.After(500 * time.Millisecond):
	}
}
