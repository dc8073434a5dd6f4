package zigbee

import (
	"context"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestRedeliverWhileConnected: a Zigbee alarm whose commit failed (a passing disk error)
// comes again from the home broker (real Mosquitto, QoS 1, persistent session) while the
// connection to it stays up, and the messages behind it get their PUBACKs. Before
// Redeliver the failed message waited for a connection loss that a healthy home broker
// never has: the alarm was never spooled, and every later message's PUBACK was held behind
// it (ackOrder), so after Mosquitto's in-flight window (20) the broker sent nothing more.
func TestRedeliverWhileConnected(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	s := NewSubscriber(Options{Broker: broker.URL(), BaseTopic: "z2m", ClientID: "gw-redeliver"})
	s.SetDevices([]vagt.DeviceConfig{{Device: "0x02", Technology: vagt.TechPersonalAlarm, Zigbee: "pendant"}})
	var mu sync.Mutex
	presses, failed := 0, false
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, func(u Update) {
			mu.Lock()
			defer mu.Unlock()
			if len(u.Readings) > 0 && u.Readings[0].Kind == vagt.KindButtonPress {
				presses++
				if !failed { // the first commit of the press fails: no Ack
					failed = true
					s.Redeliver()
					return
				}
			}
			u.Ack()
		})
	}()
	defer func() { cancel(); <-done }()

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("z2m"))
	if tok := pub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	publish := func(topic, payload string) {
		t.Helper()
		if tok := pub.Publish(topic, 1, false, payload); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	stacktest.WaitFor(t, "the subscription", time.Minute, func() bool {
		publish("z2m/pendant/availability", "online")
		return s.Stats().Messages > 0
	})
	publish("z2m/pendant", `{"action":"emergency"}`)
	publish("z2m/pendant/availability", "online") // behind the press: its PUBACK waits for it
	stacktest.WaitFor(t, "the press delivered again", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return presses >= 2
	})
	stacktest.WaitFor(t, "every message acknowledged", time.Minute, func() bool { return s.Stats().Unacked == 0 })
}
