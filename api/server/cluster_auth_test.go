package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestAlarmLaneOnClusterWithAuth: the api's alarm lane on the cluster with every client
// authorized by vagt broker-auth (issue 20's client-id takeover): the api logs in as
// svc_api under its own client ids (the lane's, and its -config, -downlink and -gps
// connections), each gateway under its own id. A gateway that tries the api's client id is
// refused and the api's session stays; every gateway's alarm becomes exactly one alert.
func TestAlarmLaneOnClusterWithAuth(t *testing.T) {
	const gateways, apiID = 5, "vagt-api-auth"
	var passwd strings.Builder
	users := []string{"svc_api"}
	for i := 1; i <= gateways; i++ {
		users = append(users, fmt.Sprintf("gw-a-%03d", i))
	}
	for _, u := range users {
		h, err := localstack.HashMosquittoPassword(u + "-pw")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&passwd, "%s:%s\n", u, h)
	}
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte(passwd.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	pf, err := brokerauth.OpenPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cluster := stacktest.NATSClusterWithAuth(t, localstack.NATSClusterOptions{}, brokerauth.Options{Passwords: pf})

	clock := api.NewManualClock(t0)
	srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"),
		Broker: cluster.URL(), ClientID: apiID, Username: "svc_api", Password: "svc_api-pw",
		Tick: 20 * time.Millisecond, FeedPoll: 200 * time.Millisecond, StreamWriteTimeout: 5 * time.Second},
		server.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &stack{srv: srv, base: "http://" + srv.Addr(), clock: clock, tokens: map[string]string{}, cancel: cancel, done: make(chan error, 1)}
	go func() { st.done <- srv.Run(ctx) }()
	t.Cleanup(st.stop)
	waitFor(t, "the API to be ready (its lane subscribed through the callout)", func() bool {
		resp, err := http.Get(st.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	st.world(t)
	events := st.stream(t, "anna", 0)
	apiNode := cluster.NodeOf(apiID)
	if apiNode == nil {
		t.Fatal("no node holds the api's lane")
	}

	connect := func(user, clientID string) (mqtt.Client, error) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cluster.URL()).SetClientID(clientID).
			SetUsername(user).SetPassword(user + "-pw").SetAutoReconnect(false).SetConnectTimeout(patience))
		tok := c.Connect()
		if !tok.WaitTimeout(patience) {
			t.Fatalf("%s as %q: no answer", user, clientID)
		}
		if tok.Error() == nil {
			t.Cleanup(func() { c.Disconnect(100) })
		}
		return c, tok.Error()
	}
	// The takeover, on every node: refused, and the api keeps its session on its node.
	for range cluster.Nodes() {
		if _, err := connect("gw-a-001", apiID); err == nil {
			t.Fatal("gateway gw-a-001 connected under the api's client id")
		}
	}
	if n := cluster.NodeOf(apiID); n != apiNode {
		t.Fatalf("the api's lane moved from %v to %v: its session was taken over", apiNode.Name(), n)
	}

	for i := 1; i <= gateways; i++ {
		gw := vagt.GatewayID(fmt.Sprintf("gw-a-%03d", i))
		c, err := connect(string(gw), string(gw))
		if err != nil {
			t.Fatalf("%s: %v", gw, err)
		}
		b, err := vagt.EncodeAlarm(&vagt.Alarm{Gateway: gw, Seq: 1, Municipality: 766, Time: t0, Device: "bu-1:btn",
			Type: vagt.AlarmPanic, Priority: vagt.AlarmPanic.Priority()})
		if err != nil {
			t.Fatal(err)
		}
		if tok := c.Publish(vagt.Topic(gw, vagt.LaneAlarm), 1, false, b); !tok.WaitTimeout(patience) || tok.Error() != nil {
			t.Fatalf("%s: alarm not acknowledged: %v", gw, tok.Error())
		}
	}
	alertsOf := map[vagt.GatewayID]int{}
	deadline := time.After(patience)
	for len(alertsOf) < gateways {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if e.Name == "new" && e.Data.Alert.Type == vagt.AlarmPanic {
				alertsOf[e.Data.Alert.Gateway]++
			}
		case <-deadline:
			t.Fatalf("alerts of %d gateways, want %d: %v", len(alertsOf), gateways, alertsOf)
		}
	}
	// A copy arriving late would be a second "new" event.
	late := time.After(2 * time.Second)
	for done := false; !done; {
		select {
		case e := <-events:
			if e.Name == "new" && e.Data.Alert.Type == vagt.AlarmPanic {
				alertsOf[e.Data.Alert.Gateway]++
			}
		case <-late:
			done = true
		}
	}
	for gw, n := range alertsOf {
		if n != 1 {
			t.Errorf("%s: %d alerts, want exactly 1", gw, n)
		}
	}
}
