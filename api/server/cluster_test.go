package server_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestAlarmLaneOnCluster is the alarm lane on the clustered broker (issue 20): gateways
// publish alarms through the cluster's balancer while the node that holds the api's
// persistent session is killed -9 and started again, and then the node that holds the
// gateways' connection. A gateway sends an alarm again until the broker acknowledges it
// (as its spool does). Every alarm becomes exactly one alert; the publish-to-stream
// latencies are logged, not asserted.
func TestAlarmLaneOnCluster(t *testing.T) {
	cluster := stacktest.NATSCluster(t)
	st := startAPIURL(t, cluster.URL(), filepath.Join(t.TempDir(), "vagt.db"), "vagt-api-cluster", api.NewManualClock(t0))
	st.world(t)
	events := st.stream(t, "anna", 0)

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cluster.URL()).SetClientID("gw-cluster-test").
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true))
	if tok := pub.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { pub.Disconnect(100) })

	var (
		mu     sync.Mutex
		sentAt = map[vagt.GatewayID]time.Time{}
	)
	const perPhase = 10
	n := 0
	// send publishes one alarm of a new gateway, again until a PUBACK comes.
	send := func() {
		t.Helper()
		n++
		gw := vagt.GatewayID(fmt.Sprintf("gw-c-%03d", n))
		b, err := vagt.EncodeAlarm(&vagt.Alarm{Gateway: gw, Seq: 1, Municipality: 766, Time: t0, Device: "bu-1:btn",
			Type: vagt.AlarmPanic, Priority: vagt.AlarmPanic.Priority()})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		sentAt[gw] = time.Now()
		mu.Unlock()
		deadline := time.Now().Add(patience)
		for {
			tok := pub.Publish(vagt.Topic(gw, vagt.LaneAlarm), 1, false, b)
			if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("alarm of %s not acknowledged: %v", gw, tok.Error())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The stream is read as it comes, so that the latency is the alert's, not the test's.
	alertsOf := map[vagt.GatewayID]int{}
	var latencies []time.Duration
	go func() { // ends when the stream does, at the test's end
		for e := range events {
			if e.Name != "new" || e.Data.Alert.Type != vagt.AlarmPanic {
				continue
			}
			mu.Lock()
			gw := e.Data.Alert.Gateway
			alertsOf[gw]++
			latencies = append(latencies, time.Since(sentAt[gw]))
			mu.Unlock()
		}
	}()
	collect := func(want int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d alerts", want), func() bool { mu.Lock(); defer mu.Unlock(); return len(alertsOf) >= want })
	}
	kill := func(clientID string) *localstack.NATSNode {
		t.Helper()
		var node *localstack.NATSNode
		waitFor(t, "the node of "+clientID, func() bool { node = cluster.NodeOf(clientID); return node != nil })
		if err := node.Kill(); err != nil {
			t.Fatal(err)
		}
		return node
	}

	for range perPhase {
		send()
	}
	collect(perPhase)

	node := kill("vagt-api-cluster")
	for range perPhase {
		send()
	}
	collect(2 * perPhase)
	if err := node.Start(t.Context()); err != nil {
		t.Fatal(err)
	}

	node = kill("gw-cluster-test")
	for range perPhase {
		send()
	}
	collect(3 * perPhase)
	if err := node.Start(t.Context()); err != nil {
		t.Fatal(err)
	}

	// A copy arriving late would be a second "new" event: give it a moment, then count.
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	for gw, c := range alertsOf {
		if c != 1 {
			t.Errorf("%s: %d alerts, want exactly 1", gw, c)
		}
	}
	if len(alertsOf) != 3*perPhase {
		t.Errorf("%d gateways with an alert, want %d", len(alertsOf), 3*perPhase)
	}
	slices.Sort(latencies)
	q := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	t.Logf("publish-to-stream latency over %d alarms, two node kills: p50 %v, p99 %v, max %v", len(latencies), q(0.5), q(0.99), latencies[len(latencies)-1])
}
