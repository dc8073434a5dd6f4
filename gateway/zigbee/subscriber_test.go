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

func TestMain(m *testing.M) { stacktest.Main(m) }

func TestSubscriberOnRealBroker(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	s := NewSubscriber(Options{Broker: broker.URL(), BaseTopic: "z2m"})
	s.SetDevices([]vagt.DeviceConfig{
		{Device: "0x01", Technology: vagt.TechDoorSensor, Zigbee: "front_door"},
		{Device: "0x02", Technology: vagt.TechPersonalAlarm, Zigbee: "pendant"},
		{Device: "bu-17", Technology: vagt.TechPersonalAlarm}, // serial: no Zigbee name
	})
	var mu sync.Mutex
	var got []Update
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, func(u Update) { mu.Lock(); got = append(got, u); mu.Unlock() })
	}()
	defer func() { cancel(); <-done }()

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("z2m"))
	if tok := pub.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	// Wait for the subscription: publish a probe until it comes through.
	deadline := time.Now().Add(time.Minute)
	for s.Stats().Messages == 0 {
		if time.Now().After(deadline) {
			t.Fatal("subscriber never subscribed")
		}
		pub.Publish("z2m/front_door/availability", 1, false, `{"state":"online"}`).Wait()
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	got = nil
	mu.Unlock()
	for _, m := range []struct{ topic, payload string }{
		{"z2m/front_door", `{"contact":false,"linkquality":80}`},
		{"z2m/front_door", `not json`},
		{"z2m/kitchen_plug", `{"power":12}`},
		{"z2m/bridge/state", `{"state":"online"}`},
		{"z2m/pendant", `{"action":"emergency"}`},
		{"z2m/pendant/availability", `offline`},
	} {
		if tok := pub.Publish(m.topic, 1, false, m.payload); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("have %d updates", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if got[0].Device != "0x01" || len(got[0].Readings) != 2 || got[0].Readings[0].Kind != vagt.KindDoorOpen || got[0].Readings[0].Value != 1 {
		t.Errorf("door: %+v", got[0])
	}
	if got[1].Device != "0x02" || got[1].Readings[0].Kind != vagt.KindButtonPress || got[1].Readings[0].Value != vagt.PressEmergency {
		t.Errorf("pendant: %+v", got[1])
	}
	if got[2].Online == nil || *got[2].Online {
		t.Errorf("availability: %+v", got[2])
	}
	st := s.Stats()
	if st.Rejected != 1 || st.UnknownDevice != 1 {
		t.Errorf("stats %+v", st)
	}
}
