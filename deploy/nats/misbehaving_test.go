package natsconf_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The two misbehaving gateways of issue 20 that are contained rather than refused, on the
// production configuration through vagt broker-auth:
//
//   - gw-loop reconnects in a tight loop, four connections at once, each as a real gateway
//     connects (persistent session, subscribing to its config and downlink lanes, so every
//     connect loads its session from JetStream). Neither NATS nor broker-auth limits the
//     rate of a client's connects: the loop is contained because it only ever spends its own
//     session (each connect under its id takes over the previous one). Meanwhile other
//     gateways must still get in, each at the first attempt, and alarms must still flow.
//   - gw-deaf never acknowledges its downlink while the api sends it more than the node keeps
//     in flight (max_ack_pending 1024): it gets at most that many, the api's publishes are
//     all acknowledged (nothing holds the api up), and gw-deaf's own alarm is acknowledged
//     and reaches the api.
//
// The connect times and the loop's rate are logged (not asserted: a shared machine).
func TestProductionConfigContainsTightLoopsAndDeafGateways(t *testing.T) {
	const window, downlinks, others = 1024, 1100, 20
	ids := []string{"gw-loop", "gw-deaf"}
	for i := range others {
		ids = append(ids, fmt.Sprintf("gw-o%02d", i))
	}
	c, pki := productionCluster(t, ids...)
	api := connect(t, pki, c.Node(0).URL(), "svc_api", "vagt-api")
	alarms := make(chan mqtt.Message, 100)
	wait(t, api.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { alarms <- m }))

	deafCert := pki.Issue("gw-deaf")
	var deafGot atomic.Int64
	deaf := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(c.Node(1).URL()).SetClientID("gw-deaf").
		SetCleanSession(false).SetAutoReconnect(false).SetConnectTimeout(waitFor).SetAutoAckDisabled(true).
		SetTLSConfig(pki.ClientTLS(&deafCert)))
	wait(t, deaf.Connect())
	t.Cleanup(func() { deaf.Disconnect(100) })
	wait(t, deaf.Subscribe("vagt/v1/gw/gw-deaf/downlink", 1, func(mqtt.Client, mqtt.Message) { deafGot.Add(1) }))

	// The loop, on every node by turns.
	loopCert := pki.Issue("gw-loop")
	stop := make(chan struct{})
	var loops, refused atomic.Int64
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	loopStart := time.Now()
	for k := range 4 {
		wg.Go(func() {
			for n := k; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(c.Nodes()[n%len(c.Nodes())].URL()).SetClientID("gw-loop").
					SetCleanSession(false).SetAutoReconnect(false).SetConnectTimeout(waitFor).SetTLSConfig(pki.ClientTLS(&loopCert)))
				if tok := cl.Connect(); tok.WaitTimeout(waitFor) && tok.Error() == nil {
					cl.SubscribeMultiple(map[string]byte{"vagt/v1/gw/gw-loop/config": 1, "vagt/v1/gw/gw-loop/downlink": 1}, nil).WaitTimeout(waitFor)
					loops.Add(1)
					cl.Disconnect(0)
				} else {
					refused.Add(1)
				}
			}
		})
	}

	// The api fills gw-deaf's downlink; every publish is acknowledged.
	for i := range downlinks {
		wait(t, api.Publish("vagt/v1/gw/gw-deaf/downlink", 1, false, fmt.Sprintf("downlink %d", i)))
	}
	// The others connect, one after another, and each raises an alarm.
	var took []time.Duration
	for i := range others {
		id := fmt.Sprintf("gw-o%02d", i)
		start := time.Now()
		gw := connect(t, pki, c.Nodes()[i%len(c.Nodes())].URL(), id, id) // fails the test if refused
		took = append(took, time.Since(start))
		wait(t, gw.Publish("vagt/v1/gw/"+id+"/alarm", 1, false, id))
	}
	wait(t, deaf.Publish("vagt/v1/gw/gw-deaf/alarm", 1, false, "gw-deaf"))
	want := map[string]bool{"gw-deaf": true}
	for i := range others {
		want[fmt.Sprintf("gw-o%02d", i)] = true
	}
	for len(want) > 0 {
		select {
		case m := <-alarms:
			delete(want, string(m.Payload()))
		case <-time.After(waitFor):
			t.Fatalf("alarms that did not reach the api: %v", want)
		}
	}
	stacktest.WaitFor(t, "gw-deaf's window to fill", waitFor, func() bool { return deafGot.Load() >= window })
	time.Sleep(time.Second) // room for more than the window, if the node sent it
	if n := deafGot.Load(); n > window {
		t.Errorf("gw-deaf, which acknowledges nothing, got %d downlink messages in flight; want at most %d", n, window)
	}
	if loops.Load() == 0 {
		t.Error("the tight loop never connected: it was not part of the test")
	}
	slices.Sort(took)
	elapsed := time.Since(loopStart)
	t.Logf("tight loop: %d connects (%.0f/s) and %d refused or failed in %v; %d other gateways connected meanwhile, CONNECT to CONNACK min %v median %v max %v; gw-deaf holds %d of %d downlinks",
		loops.Load(), float64(loops.Load())/elapsed.Seconds(), refused.Load(), elapsed.Round(time.Millisecond), others,
		took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), deafGot.Load(), downlinks)
}
