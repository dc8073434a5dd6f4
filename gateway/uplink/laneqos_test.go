package uplink

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// With QoS 0 lanes the online status waits for the lanes: the api answers it by telling
// the gateway again what it missed, and with QoS 0 a downlink published before the broker
// holds the subscription reaches nobody. A broker refuses the lanes at first: the gateway
// is connected and says nothing; once the broker grants them, "online" comes, and a
// downlink published in answer to it arrives.
func TestOnlineOnceQoS0LanesGranted(t *testing.T) {
	b := refusetest.StartRefusingAll(t)
	statuses := make(chan vagt.Status, 16)
	platform := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("platform").
		SetUsername(refusetest.Admin).SetPassword(refusetest.Password))
	if tok := platform.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer platform.Disconnect(0)
	answered := make(chan error, 1)
	if tok := platform.Subscribe(vagt.Topic(gw, vagt.LaneStatus), 1, func(_ mqtt.Client, m mqtt.Message) {
		st, err := vagt.DecodeStatus(m.Payload())
		if err != nil {
			t.Errorf("status: %v", err)
			return
		}
		statuses <- st
		if st.Online {
			// As the api does: the online status is the cue to tell what was missed.
			go func() {
				tok := platform.Publish(vagt.Topic(gw, vagt.LaneDownlink), 1, false, []byte("told again"))
				tok.Wait()
				answered <- tok.Error()
			}()
		}
	}); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	u, _ := start(t, Options{Broker: b.URL(), Username: refusetest.User, Password: refusetest.Password,
		MaxBackoff: 200 * time.Millisecond, Heartbeat: 100 * time.Millisecond, LaneQoS0: true}, newSpool(t))
	waitFor(t, "connected", u.Connected)
	// Refused at least three times, several heartbeats apart: no online status meanwhile.
	waitFor(t, "three refusals", func() bool { return u.Subscriptions().Failures >= 3 })
	select {
	case st := <-statuses:
		t.Fatalf("a status went out while the QoS 0 lanes were refused: %+v", st)
	default:
	}

	b.AllowAll()
	var st vagt.Status
	select {
	case st = <-statuses:
	case <-time.After(time.Minute): // a bound, not a target
		t.Fatal("no status after the lanes were granted")
	}
	if !st.Online {
		t.Fatalf("first status %+v, want online", st)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-u.Downlinks():
		if string(p) != "told again" {
			t.Fatalf("downlink %q", p)
		}
	case <-time.After(time.Minute):
		t.Fatal("the downlink published in answer to the online status was lost")
	}
	if s := u.Subscriptions(); !s.Subscribed || s.QoS != 0 {
		t.Fatalf("subscriptions %+v, want granted with QoS 0", s)
	}
}

// The lanes are subscribed with the QoS asked for, and the broker behaves accordingly: it
// grants that QoS (SUBACK), and with QoS 1 it keeps a downlink published while the gateway
// is away for its return, with QoS 0 it does not (the api's retell makes up for it).
func TestLaneQoS(t *testing.T) {
	for _, qos0 := range []bool{false, true} {
		want := 1
		if qos0 {
			want = 0
		}
		t.Run(map[bool]string{false: "QoS 1", true: "QoS 0"}[qos0], func(t *testing.T) {
			broker := stacktest.Mosquitto(t)
			pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("platform"))
			if tok := pub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			defer pub.Disconnect(0)
			publish := func(topic string, retained bool, payload string) {
				t.Helper()
				if tok := pub.Publish(topic, 1, retained, payload); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
					t.Fatal(tok.Error())
				}
			}
			// A retained plan arrives at every subscribe, whatever the QoS.
			publish(vagt.Topic(gw, vagt.LaneConfig), true, "plan")
			opts := Options{Broker: broker.URL(), LaneQoS0: qos0}
			u, stop := start(t, opts, newSpool(t))
			waitFor(t, "subscribed", func() bool { return u.Subscriptions().Subscribed })
			if s := u.Subscriptions(); s.QoS != want {
				t.Fatalf("granted %+v, want QoS %d", s, want)
			}
			if p := <-u.Configs(); string(p) != "plan" {
				t.Fatalf("config %q", p)
			}
			stop() // a clean disconnect: the persistent session stays on the broker

			publish(vagt.Topic(gw, vagt.LaneDownlink), false, "while away")
			u, _ = start(t, opts, newSpool(t))
			waitFor(t, "subscribed again", func() bool { return u.Subscriptions().Subscribed })
			publish(vagt.Topic(gw, vagt.LaneDownlink), false, "after the return")
			first := func() string {
				select {
				case p := <-u.Downlinks():
					return string(p)
				case <-time.After(time.Minute): // a bound, not a target
					t.Fatal("no downlink")
				}
				return ""
			}()
			if kept := first == "while away"; kept != !qos0 {
				t.Fatalf("first downlink after the return %q: the broker kept the one sent while away: %v, want %v", first, kept, !qos0)
			}
		})
	}
}
