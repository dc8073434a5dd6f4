package zigbee

import (
	"context"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// A home broker that refuses the Zigbee2MQTT topics (SUBACK 0x80): no sensor is heard, so
// the subscriber says so (Stats) and asks again while connected; once granted, it is.
func TestSubscriberRefused(t *testing.T) {
	b := refusetest.StartRefusingAll(t)
	s := NewSubscriber(Options{Broker: b.URL(), BaseTopic: "z2m", Username: refusetest.User, Password: refusetest.Password})
	s.subscribeRetryMax = 100 * time.Millisecond
	s.SetDevices([]vagt.DeviceConfig{{Device: "0x01", Technology: vagt.TechDoorSensor, Zigbee: "front_door"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx, func(u Update) { u.Ack() }) }()
	defer func() { cancel(); <-done }()

	stacktest.WaitFor(t, "three refusals", time.Minute, func() bool { return s.Stats().SubscribeFailures >= 3 })
	if st := s.Stats(); st.Subscribed {
		t.Fatalf("subscribed with the topics refused: %+v", st)
	}
	b.AllowAll()
	stacktest.WaitFor(t, "subscribed", time.Minute, func() bool { return s.Stats().Subscribed })
}
