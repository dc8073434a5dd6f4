package localstack_test

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMosquittoDeliversQoS1(t *testing.T) {
	m := stacktest.Mosquitto(t)
	got := make(chan mqtt.Message, 10)
	sub := connectMQTT(t, m.URL(), clientOptions("sub", true))
	wait(t, sub.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, msg mqtt.Message) { got <- msg }))

	pub := connectMQTT(t, m.URL(), clientOptions("pub", true))
	wait(t, pub.Publish("vagt/v1/gw/gw1/alarm", 1, false, "fall"))

	msg := receive(t, got)
	if msg.Topic() != "vagt/v1/gw/gw1/alarm" || string(msg.Payload()) != "fall" || msg.Qos() != 1 {
		t.Fatalf("got %s %q QoS %d", msg.Topic(), msg.Payload(), msg.Qos())
	}
}

// A persistent session's queued QoS 1 message survives a broker restart,
// which is what the consumers rely on.
func TestMosquittoPersistentSessionSurvivesRestart(t *testing.T) {
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	url := m.URL()

	sub := connectMQTT(t, url, clientOptions("ingest-1", false))
	wait(t, sub.Subscribe("vagt/v1/gw/+/telemetry", 1, nil))
	sub.Disconnect(250)

	pub := connectMQTT(t, url, clientOptions("gw1", true))
	wait(t, pub.Publish("vagt/v1/gw/gw1/telemetry", 1, false, "batch-1"))
	pub.Disconnect(250)

	if err := m.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.URL() != url {
		t.Fatalf("URL after restart = %s, want the same %s", m.URL(), url)
	}

	// The session's subscription comes back from the broker, not from us, so
	// the message arrives at the default handler without a Subscribe.
	got := make(chan mqtt.Message, 10)
	opts := clientOptions("ingest-1", false).
		SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) { got <- msg })
	connectMQTT(t, url, opts)
	if msg := receive(t, got); string(msg.Payload()) != "batch-1" {
		t.Fatalf("got %q, want batch-1", msg.Payload())
	}
}

func TestMosquittoStartsAgainAfterKill(t *testing.T) {
	m := stacktest.Mosquitto(t)
	if m.PID() == 0 {
		t.Fatal("PID() = 0 for a running broker")
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if m.Running() || m.PID() != 0 {
		t.Fatalf("after Kill: Running() = %t, PID() = %d", m.Running(), m.PID())
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	connectMQTT(t, m.URL(), clientOptions("after-kill", true))
}

func TestMosquittoPasswordsAndACL(t *testing.T) {
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{
		Users: map[string]string{"gw1": "secret1", "ingest": "secret2"},
		ACL:   "user ingest\ntopic read vagt/v1/gw/#\n\npattern write vagt/v1/gw/%u/#\n",
	})

	for _, c := range []struct{ name, user, password string }{
		{"anonymous", "", ""},
		{"wrong password", "gw1", "secret2"},
		{"unknown user", "gw2", "secret1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := clientOptions("refused", true).SetUsername(c.user).SetPassword(c.password)
			client := mqtt.NewClient(opts)
			tok := client.Connect()
			if !tok.WaitTimeout(waitFor) {
				t.Fatal("no answer to CONNECT")
			}
			if tok.Error() == nil {
				client.Disconnect(0)
				t.Fatal("connected; want refused")
			}
		})
	}

	got := make(chan mqtt.Message, 10)
	sub := connectMQTT(t, m.URL(), clientOptions("ingest", true).SetUsername("ingest").SetPassword("secret2"))
	wait(t, sub.Subscribe("vagt/v1/gw/#", 1, func(_ mqtt.Client, msg mqtt.Message) { got <- msg }))

	gw := connectMQTT(t, m.URL(), clientOptions("gw1", true).SetUsername("gw1").SetPassword("secret1"))
	// The broker handles one client's publishes in order, so if the forged
	// one were let through it would arrive first.
	wait(t, gw.Publish("vagt/v1/gw/gw2/alarm", 1, false, "forged"))
	wait(t, gw.Publish("vagt/v1/gw/gw1/alarm", 1, false, "genuine"))
	if msg := receive(t, got); msg.Topic() != "vagt/v1/gw/gw1/alarm" || string(msg.Payload()) != "genuine" {
		t.Fatalf("first message %s %q; want the genuine one, the forged one denied", msg.Topic(), msg.Payload())
	}
}

func clientOptions(id string, clean bool) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().
		SetClientID(id).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectTimeout(waitFor)
}

func connectMQTT(t *testing.T, url string, opts *mqtt.ClientOptions) mqtt.Client {
	t.Helper()
	client := mqtt.NewClient(opts.AddBroker(url))
	wait(t, client.Connect())
	t.Cleanup(func() { client.Disconnect(250) })
	return client
}

func wait(t *testing.T, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitFor) {
		t.Fatal("MQTT operation did not complete")
	}
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, ch <-chan mqtt.Message) mqtt.Message {
	t.Helper()
	select {
	case msg := <-ch:
		return msg
	case <-t.Context().Done():
	case <-time.After(waitFor):
	}
	t.Fatal("no message arrived")
	return nil
}
