package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestDownlinkToldAgainOnReconnectOnCluster (issue 20): on the NATS cluster a gateway with
// QoS 0 lanes (--lane-qos 0) has no JetStream consumer for them, so a downlink published
// while it is away is lost; the api tells it again when the gateway's online status says
// it is back. The real api and the real gateway: a door opened at night raises an alarm,
// the gateway hears "received", stops; staff acknowledge meanwhile (published, and
// reaching nobody); the gateway starts again and hears "acknowledged". Without the api's
// retell (downlink.RetellGateway) the restarted gateway hears nothing and this fails.
func TestDownlinkToldAgainOnReconnectOnCluster(t *testing.T) {
	cluster := stacktest.NATSCluster(t)
	w := startCarePlanWorld(t, filepath.Join(t.TempDir(), "vagt.db"), cluster)
	w.gwCfg.Uplink.LaneQoS = 0
	w.gwCfg.Home.Rules.Night = "20:00-07:00" // the world's clock says 20:30: a door opening is an alarm

	// A platform-side observer of the gateway's downlink (QoS 0 too: no consumer).
	seen := make(chan vagt.Downlink, 16)
	obs := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cluster.URL()).SetClientID("downlink-observer"))
	if tok := obs.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer obs.Disconnect(100)
	if tok := obs.Subscribe(vagt.Topic("gw-care", vagt.LaneDownlink), 0, func(_ mqtt.Client, m mqtt.Message) {
		if d, err := vagt.DecodeDownlink(m.Payload()); err == nil {
			seen <- d
		}
	}); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	observed := func(what string, state vagt.HelpState) {
		t.Helper()
		eventually(t, what+" at the observer", func() bool {
			select {
			case d := <-seen:
				return d.State == state
			default:
				return false
			}
		})
	}

	g, stop := w.runGateway(t)
	eventually(t, "the gateway online, its QoS 0 lanes granted", func() bool {
		s := g.Snapshot().UplinkSubscribe
		v := w.view(t)
		return s.Subscribed && s.QoS == 0 && len(v.Gateways) > 0 && v.Gateways[0].ReportedAt != nil
	})
	w.door(t, g, true)
	var alert alerts.Alert
	eventually(t, "the door_at_night alert in the staff's list", func() bool {
		var list struct{ Alerts []alerts.Alert }
		w.call(t, "anna", "GET", "/api/v1/alerts", "", &list)
		i := slices.IndexFunc(list.Alerts, func(a alerts.Alert) bool { return a.Type == vagt.AlarmDoorAtNight && a.Gateway == "gw-care" })
		if i >= 0 {
			alert = list.Alerts[i]
		}
		return i >= 0
	})
	eventually(t, "the gateway hears received", func() bool { return g.HelpStats().Applied >= 1 })
	observed("received", vagt.HelpReceived)

	// The cluster holds no consumer for the gateway's lanes; the api's QoS 1 alarm and
	// status lanes are consumers, which shows the count is read right.
	lanes, all := mqttConsumers(t, cluster, "gw-care")
	if lanes != 0 || all == 0 {
		t.Fatalf("%d consumers of $MQTT_msgs for gw-care's lanes (want 0), %d in all (want the api's)", lanes, all)
	}

	stop() // away
	if code := w.call(t, "anna", "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", alert.ID), "", nil); code != 200 {
		t.Fatalf("ack: %d", code)
	}
	observed("acknowledged, published while the gateway is away", vagt.HelpAcknowledged)

	g, stop = w.runGateway(t)
	defer stop()
	eventually(t, "the restarted gateway hears acknowledged, told again", func() bool { return g.HelpStats().Applied >= 1 })
	if lanes, _ := mqttConsumers(t, cluster, "gw-care"); lanes != 0 {
		t.Fatalf("%d consumers for gw-care's lanes after the reconnect, want 0", lanes)
	}
}

// mqttConsumers counts the JetStream consumers of the MQTT sessions' stream $MQTT_msgs
// (one per QoS 1 subscription) whose subject names gateway gw, and all of them.
func mqttConsumers(t *testing.T, cluster *localstack.NATSCluster, gw vagt.GatewayID) (lanes, all int) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(cluster.ClientURLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	for ci := range js.Consumers("$MQTT_msgs") {
		all++
		subjects := append([]string{ci.Config.FilterSubject}, ci.Config.FilterSubjects...)
		if slices.ContainsFunc(subjects, func(s string) bool { return strings.Contains(s, ".gw."+string(gw)+".") }) {
			lanes++
		}
	}
	return lanes, all
}
