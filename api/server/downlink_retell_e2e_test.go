package server_test

import (
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestRedeliveryToldAgain: the api files an alarm and publishes "received" while the
// gateway's downlink subscriber is not connected (a clean, non-persistent session: the news
// is lost, as when the api restarts before telling). The gateway, not confirmed, sends the
// alarm again: a duplicate at the store, which writes no event. Before, nothing more was
// told and the gateway resent until it gave up (~31 minutes); now the lane asks the
// downlink to tell the alert's current state again, so the redelivery brings "received",
// and after staff acknowledged, the next redelivery brings "acknowledged".
func TestRedeliveryToldAgain(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			st, reg := startWithRegistry(t, broker, db(t), "vagt-api-retell-"+name)
			gwID := vagt.GatewayID("gw-retell-" + name)
			gw := newGateway(t, broker.URL())
			press := vagt.Alarm{Gateway: gwID, Seq: 900, Time: t0, Device: "bu-1:btn", Type: vagt.AlarmPanic}
			gw.alarm(t, press)
			waitFor(t, "the alarm committed", func() bool {
				return counterSum(t, reg, "vagt_api_lane_committed_total", map[string]string{"lane": "alarm"}) == 1
			})
			// Its "received" goes out to no one.
			waitFor(t, "the first received published", func() bool {
				return counterSum(t, reg, "vagt_api_downlink_published_total", nil) == 1
			})

			down := make(chan vagt.Downlink, 10)
			c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID(string(gwID) + "-down").SetCleanSession(true))
			if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
				t.Fatalf("connect: %v", tok.Error())
			}
			t.Cleanup(func() { c.Disconnect(100) })
			if tok := c.Subscribe(vagt.Topic(gwID, vagt.LaneDownlink), 1, func(_ mqtt.Client, m mqtt.Message) {
				if d, err := vagt.DecodeDownlink(m.Payload()); err == nil {
					down <- d
				} else {
					t.Errorf("downlink does not decode: %v", err)
				}
			}); !tok.WaitTimeout(patience) || tok.Error() != nil {
				t.Fatalf("subscribe: %v", tok.Error())
			}
			next := func(what string) vagt.Downlink {
				t.Helper()
				select {
				case d := <-down:
					return d
				case <-time.After(patience):
					t.Fatalf("no downlink: %s", what)
				}
				return vagt.Downlink{}
			}

			gw.alarm(t, press) // the gateway's resend
			d := next("received after the redelivery")
			if d.State != vagt.HelpReceived || !slices.Equal(d.Events, []uint64{900}) || d.Gateway != gwID {
				t.Fatalf("after the redelivery: %+v", d)
			}
			list, err := st.srv.Store.ListAlerts(t.Context(), api.Scope{All: true}, alerts.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Count != 1 || d.Alert != uint64(list[0].ID) {
				t.Fatalf("alerts %+v, downlink %+v: want the one alert, no duplicate", list, d)
			}

			// Staff acknowledge; the gateway hears it at once (the event log). Another resend
			// (as if that was lost too) is told the alert's state now: acknowledged.
			if _, err := st.srv.Store.Ack(t.Context(), list[0].ID, "anna", api.Scope{All: true}, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if d := next("acknowledged from the event log"); d.State != vagt.HelpAcknowledged {
				t.Fatalf("after the ack: %+v", d)
			}
			gw.alarm(t, press)
			if d := next("acknowledged after another redelivery"); d.State != vagt.HelpAcknowledged || !slices.Equal(d.Events, []uint64{900}) {
				t.Fatalf("after the second redelivery: %+v", d)
			}
		})
	}
}
