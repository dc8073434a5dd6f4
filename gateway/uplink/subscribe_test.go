package uplink

import (
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
)

// A broker that refuses the config and downlink lanes (SUBACK 0x80: its ACL, a consumer
// limit): the home would never get its care plan nor hear that help is coming. The uplink
// says so in its state (the gateway's /status and /metrics), counts each refusal, keeps
// sending (alarms go out regardless), and asks again while connected: once the broker
// grants it, a config arrives.
func TestRefusedLanesCountedAndRetried(t *testing.T) {
	b := refusetest.StartRefusingAll(t)
	u, stop := start(t, Options{Broker: b.URL(), Username: refusetest.User, Password: refusetest.Password, MaxBackoff: 100 * time.Millisecond}, newSpool(t))
	defer stop()
	waitFor(t, "connected", u.Connected)
	waitFor(t, "three refusals", func() bool { return u.Subscriptions().Failures >= 3 })
	s := u.Subscriptions()
	want := []string{vagt.Topic(gw, vagt.LaneConfig), vagt.Topic(gw, vagt.LaneDownlink)}
	if s.Subscribed || !slices.Equal(s.Refused, want) || s.Error == "" {
		t.Fatalf("state with both lanes refused: %+v, want refused %q", s, want)
	}
	if !u.Connected() {
		t.Fatal("the link went down: alarms must still go out")
	}

	b.AllowAll()
	waitFor(t, "subscribed", func() bool { return u.Subscriptions().Subscribed })
	if s := u.Subscriptions(); len(s.Refused) != 0 || s.Error != "" || s.Failures < 3 {
		t.Fatalf("after the grant: %+v (the count stays)", s)
	}
	api := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("api").
		SetUsername(refusetest.User).SetPassword(refusetest.Password))
	if tok := api.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer api.Disconnect(0)
	if tok := api.Publish(vagt.Topic(gw, vagt.LaneConfig), 1, false, []byte("care plan")); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case p := <-u.Configs():
		if string(p) != "care plan" {
			t.Fatalf("config %q", p)
		}
	case <-time.After(time.Minute): // a bound, not a target
		t.Fatal("the config did not arrive")
	}
}
