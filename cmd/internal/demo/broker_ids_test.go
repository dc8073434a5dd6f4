package demo

import (
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/vagt-dk/vagt/internal/mqttsub"
)

// TestClientPacketIDsBesideTheBrokers: a client's packet ids and the broker's are two
// numberings (MQTT 3.1.1, 2.3.1), but mochi keeps both in one in-flight table. A SUBSCRIBE
// whose id equals that of a message the broker has in flight to the client was refused
// (SUBACK 0x80), and a QoS 1 PUBLISH with such an id deleted the broker's message from the
// table, so it was never sent again. After a restart of the demo, ingest's session held
// messages in flight with ids from 1, ingest's first SUBSCRIBE (id 1) was refused, and the
// demo exited ("mqttin: the broker refused the subscription"; TestDemo failed so in CI).
func TestClientPacketIDsBesideTheBrokers(t *testing.T) {
	b, err := startBroker(freeLoopback(t), filepath.Join(t.TempDir(), "broker.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pw, err := b.auth.add("api", roleService, "")
	if err != nil {
		t.Fatal(err)
	}
	connect := func(id string, onMessage paho.MessageHandler) paho.Client {
		t.Helper()
		c := paho.NewClient(paho.NewClientOptions().AddBroker(b.url).SetClientID(id).SetUsername("api").SetPassword(pw).
			SetCleanSession(false).SetAutoReconnect(false).SetAutoAckDisabled(true).SetDefaultPublishHandler(onMessage))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		return c
	}
	var delivered atomic.Int32
	lane := connect("ingest", func(paho.Client, paho.Message) { delivered.Add(1) }) // never acknowledges
	defer lane.Disconnect(100)
	// Its first SUBSCRIBE takes id 1, while nothing is in flight.
	if err := mqttsub.Check(lane.Subscribe("vagt/v1/gw/+/alarm", 1, nil), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	gw := connect("gw", nil)
	defer gw.Disconnect(100)
	for range 3 {
		if tok := gw.Publish("vagt/v1/gw/gw-1/alarm", 1, false, "press"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	waitUntil(t, "three messages in flight to the lane (the broker's ids 1, 2, 3)", func() bool { return delivered.Load() == 3 })

	// The lane's next SUBSCRIBE takes id 2, which the broker uses for its second message.
	if err := mqttsub.Check(lane.Subscribe("vagt/v1/gw/+/telemetry", 1, nil), 10*time.Second); err != nil {
		t.Errorf("a SUBSCRIBE with the id of a message in flight to the client: %v", err)
	}
	// Its next QoS 1 PUBLISH takes id 3, the broker's third message.
	if tok := lane.Publish("vagt/deadletter/x", 1, false, "copy"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Errorf("a PUBLISH with the id of a message in flight to the client: %v", tok.Error())
	}
	cl, ok := b.server.Clients.Get("ingest")
	if !ok {
		t.Fatal("no client ingest on the broker")
	}
	for id := uint16(1); id <= 3; id++ {
		if pk, ok := cl.State.Inflight.Get(id); !ok || pk.FixedHeader.Type != packets.Publish || string(pk.Payload) != "press" {
			t.Errorf("the broker's message %d to the client is no longer in flight (found %v, type %d): it would not be sent again", id, ok, pk.FixedHeader.Type)
		}
	}
}
