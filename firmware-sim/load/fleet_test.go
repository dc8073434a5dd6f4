package load_test

import (
	"crypto/tls"
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// A fleet holds one TLS connection per gateway, each with its own client certificate (the
// broker sees as many clients as gateways); every gateway comes back by itself after the
// broker stops and starts again, and an alarm raised while its gateway was away arrives.
func TestFleetOneConnectionPerGatewayAcrossARestart(t *testing.T) {
	pki := stacktest.NewPKI(t, "vagt test CA")
	server := pki.Issue("127.0.0.1")
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true, TLS: &localstack.MosquittoTLS{
		CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile,
		RequireCertificate: true, UseIdentityAsUsername: true}})
	const n = 20
	certs := make([]*tls.Config, n)
	for i := range certs {
		c := pki.Issue(string(load.GatewayID("fleet", i)))
		certs[i] = pki.ClientTLS(&c)
	}
	var (
		mu  sync.Mutex
		got = map[string]bool{}
	)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("consumer").SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(100 * time.Millisecond).
		SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) { mu.Lock(); got[msg.Topic()] = true; mu.Unlock() }).
		SetOnConnectHandler(func(c mqtt.Client) { c.Subscribe("vagt/v1/gw/+/alarm", 1, nil) }))
	if tok := sub.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)

	f, err := load.StartFleet(t.Context(), load.FleetConfig{Brokers: []string{m.TLSURL()}, Gateways: n, Prefix: "fleet",
		TLS: func(i int) *tls.Config { return certs[i] }, MaxBackoff: 500 * time.Millisecond})
	if f != nil {
		defer f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "every gateway counted as connected", time.Minute, func() bool { return f.Connected() == n })
	if err := m.Stop(); err != nil { // clean: the consumer's session is saved, so nothing races its return
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "every gateway to see the broker gone", time.Minute, func() bool { return f.Connected() == 0 })
	_, tok, err := f.Alarm(7, time.Now()) // raised while away: paho holds it
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the consumer back", time.Minute, sub.IsConnectionOpen)
	stacktest.WaitFor(t, "every gateway back", time.Minute, func() bool { return f.Connected() == n })
	if !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("the alarm raised during the outage: %v", tok.Error())
	}
	stacktest.WaitFor(t, "the alarm at the consumer", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[vagt.Topic(f.ID(7), vagt.LaneAlarm)]
	})
}

// A broker that refuses the config and downlink lanes: the fleet counts every refusal (a
// measurement must not pass for one of real gateways) and asks again while connected.
func TestFleetCountsRefusedSubscriptions(t *testing.T) {
	b := refusetest.StartRefusingAll(t)
	f, err := load.StartFleet(t.Context(), load.FleetConfig{Brokers: []string{b.URL()}, Gateways: 2, Prefix: "fleet", Subscribe: true,
		Username: func(int) (string, string) { return refusetest.User, refusetest.Password }, MaxBackoff: 100 * time.Millisecond})
	if f != nil {
		defer f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	// Two gateways, one connection each: more than two refusals are retries.
	stacktest.WaitFor(t, "the refusals counted and retried", time.Minute, func() bool { return f.SubscribeFailures() >= 6 })
	if f.Connected() != 2 {
		t.Fatalf("%d gateways connected: a refused subscription is not a lost connection", f.Connected())
	}
}

// The lanes are subscribed with the QoS asked for: 0 with LaneQoS0 (on NATS no JetStream
// consumer per lane, as the gateway's --lane-qos 0), otherwise 1 as the gateway's default.
func TestFleetSubscribesTheLanesWithTheirQoS(t *testing.T) {
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{})
	for _, tc := range []struct {
		name     string
		laneQoS0 bool
		want     byte
	}{
		{"qos 1 (default)", false, 1},
		{"qos 0", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := load.StartFleet(t.Context(), load.FleetConfig{Brokers: []string{m.URL()}, Gateways: 3, Prefix: fmt.Sprintf("qos%d", tc.want),
				Subscribe: true, LaneQoS0: tc.laneQoS0, MaxBackoff: 100 * time.Millisecond})
			if f != nil {
				defer f.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range f.Gateways() {
				stacktest.WaitFor(t, "the lanes' SUBACK", time.Minute, func() bool { _, _, ok := f.GrantedLaneQoS(i); return ok })
				config, downlink, _ := f.GrantedLaneQoS(i)
				if config != tc.want || downlink != tc.want {
					t.Errorf("gateway %d: granted config QoS %d, downlink QoS %d; want %d", i, config, downlink, tc.want)
				}
			}
			if n := f.SubscribeFailures(); n != 0 {
				t.Errorf("%d lane SUBSCRIBEs refused", n)
			}
		})
	}
}
