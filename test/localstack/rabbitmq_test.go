package localstack_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The product's needs, checked on RabbitMQ 3.10 with its MQTT plugin (issue 20: is it a
// better clustered broker than NATS? docs/scaling.md, "RabbitMQ 3.10 (Debian), tried").
// One cluster for all of them: a start costs a minute of CPU here.
func TestRabbitMQCluster(t *testing.T) {
	pki := stacktest.NewPKI(t, "vagt test CA")
	server := pki.Issue("127.0.0.1")
	gw1Cert := pki.Issue("gw1")
	// The per-gateway ACL as RabbitMQ writes it: one pattern, expanded with the user.
	gateway := func(name, password string) localstack.RabbitUser {
		return localstack.RabbitUser{Name: name, Password: password,
			Write: `^vagt\.v1\.gw\.{username}\.(telemetry|alarm|status|ack)$`,
			Read:  `^vagt\.v1\.gw\.{username}\.(config|downlink)$`}
	}
	if os.Getenv("VAGT_RABBITMQ") == "" {
		t.Skip("RabbitMQ was tried as the clustered broker and rejected (docs/scaling.md); VAGT_RABBITMQ=1 runs this probe")
	}
	c, err := localstack.StartRabbitCluster(t.Context(), localstack.RabbitClusterOptions{
		Users: []localstack.RabbitUser{
			{Name: "svc", Password: "svc", Write: `^vagt\.v1\.gw\.[^.]+\.(config|downlink)$`, Read: `.*`},
			gateway("gw1", "gw1"), gateway("gw2", "gw2"),
		},
		TLS: &localstack.RabbitTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile},
	})
	if errors.Is(err, localstack.ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	as := func(id, user string, clean bool) *mqtt.ClientOptions {
		return clientOptions(id, clean).SetUsername(user).SetPassword(user)
	}

	t.Run("QoS 1 across nodes", func(t *testing.T) {
		got := make(chan mqtt.Message, 10)
		sub := connectMQTT(t, c.Node(0).URL(), as("svc-across", "svc", true))
		wait(t, sub.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }))
		pub := connectMQTT(t, c.Node(1).URL(), as("gw1", "gw1", true))
		wait(t, pub.Publish("vagt/v1/gw/gw1/alarm", 1, false, "fall"))
		if m := receive(t, got); m.Topic() != "vagt/v1/gw/gw1/alarm" || string(m.Payload()) != "fall" {
			t.Fatalf("got %s %q", m.Topic(), m.Payload())
		}
		sub.Disconnect(100)
		pub.Disconnect(100)
	})

	// RabbitMQ 3.10 answers a refused SUBSCRIBE by closing the connection, not with
	// SUBACK 0x80 (which MQTT 3.1.1 allows and NATS and Mosquitto send).
	t.Run("a gateway's subscription outside its lanes closes its connection", func(t *testing.T) {
		for filter, allowed := range map[string]bool{
			"vagt/v1/gw/gw1/config": true, "#": false, "vagt/v1/gw/gw2/config": false, "vagt/v1/gw/+/alarm": false,
		} {
			gw := connectMQTT(t, c.Node(0).URL(), as("gw1-subs", "gw1", true))
			tok := gw.Subscribe(filter, 1, nil)
			if !tok.WaitTimeout(waitFor) {
				t.Fatalf("SUBSCRIBE %s: no answer", filter)
			}
			code, granted := tok.(*mqtt.SubscribeToken).Result()[filter]
			switch {
			case allowed && (tok.Error() != nil || code != 1):
				t.Errorf("SUBSCRIBE %s (its own lane): %v, SUBACK %#x", filter, tok.Error(), code)
			case !allowed && tok.Error() == nil && code != 0x80:
				t.Errorf("SUBSCRIBE %s: granted QoS %d", filter, code)
			case !allowed:
				t.Logf("SUBSCRIBE %s: %v (SUBACK received: %t)", filter, tok.Error(), granted)
			}
			gw.Disconnect(100)
		}
	})

	t.Run("a publish under another gateway's id is not delivered", func(t *testing.T) {
		got := make(chan mqtt.Message, 10)
		sub := connectMQTT(t, c.Node(0).URL(), as("svc-spoof", "svc", true))
		wait(t, sub.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }))
		lost := make(chan error, 1)
		gw := connectMQTT(t, c.Node(1).URL(), as("gw1-spoof", "gw1", true).
			SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err }))
		tok := gw.Publish("vagt/v1/gw/gw2/alarm", 1, false, "spoofed")
		acked := tok.WaitTimeout(5*time.Second) && tok.Error() == nil
		select {
		case m := <-got:
			t.Fatalf("delivered %s %q", m.Topic(), m.Payload())
		case err := <-lost:
			t.Logf("the broker closed the spoofing connection (%v); PUBACK: %t", err, acked)
		case <-time.After(3 * time.Second):
			t.Logf("not delivered; connection kept; PUBACK: %t", acked)
		}
		gw.Disconnect(100)
		sub.Disconnect(100)
	})

	t.Run("client certificate's common name is the user", func(t *testing.T) {
		bad := mqtt.NewClient(clientOptions("no-cert", true).AddBroker(c.Node(1).TLSURL()).SetTLSConfig(pki.ClientTLS(nil)))
		if tok := bad.Connect(); tok.WaitTimeout(waitFor) && tok.Error() == nil {
			t.Fatal("connected without a client certificate")
		}
		gw := connectMQTT(t, c.Node(1).TLSURL(), clientOptions("gw1", true).SetTLSConfig(pki.ClientTLS(&gw1Cert)))
		ok := gw.Subscribe("vagt/v1/gw/gw1/config", 1, nil)
		wait(t, ok)
		if r := ok.(*mqtt.SubscribeToken).Result()["vagt/v1/gw/gw1/config"]; r != 1 {
			t.Errorf("own lane: SUBACK %#x", r)
		}
		denied := gw.Subscribe("vagt/v1/gw/gw2/config", 1, nil)
		if denied.WaitTimeout(waitFor) && denied.Error() == nil && denied.(*mqtt.SubscribeToken).Result()["vagt/v1/gw/gw2/config"] != 0x80 {
			t.Error("gw1's certificate was granted gw2's lane")
		}
		gw.Disconnect(100)
	})

	t.Run("retained messages are kept per node", func(t *testing.T) {
		svc := connectMQTT(t, c.Node(0).URL(), as("svc-retain", "svc", true))
		wait(t, svc.Publish("vagt/v1/gw/gw1/config", 1, true, "plan-1"))
		svc.Disconnect(100)
		for i, n := range c.Nodes() {
			got := make(chan mqtt.Message, 1)
			gw := connectMQTT(t, n.URL(), as(fmt.Sprintf("gw1-retain-%d", i), "gw1", true))
			wait(t, gw.Subscribe("vagt/v1/gw/gw1/config", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }))
			select {
			case m := <-got:
				t.Logf("node %d: retained %q", i+1, m.Payload())
				if i != 0 {
					t.Errorf("node %d has the plan published on node 1: replicated after all?", i+1)
				}
			case <-time.After(3 * time.Second):
				t.Logf("node %d: no retained message", i+1)
				if i == 0 {
					t.Error("node 1, where it was published, has no retained plan")
				}
			}
			gw.Disconnect(100)
		}
	})

	t.Run("a will on a lost connection", func(t *testing.T) {
		got := make(chan mqtt.Message, 1)
		svc := connectMQTT(t, c.Node(0).URL(), as("svc-will", "svc", true))
		wait(t, svc.Subscribe("vagt/v1/gw/gw2/status", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }))
		// A raw CONNECT with a will, then the socket closed without DISCONNECT.
		rawConnect(t, c.Node(1).URL(), connectWithWill("gw2-will", "gw2", "gw2", "vagt/v1/gw/gw2/status", "offline")).Close()
		if m := receive(t, got); string(m.Payload()) != "offline" {
			t.Fatalf("got %q", m.Payload())
		}
		svc.Disconnect(100)
	})

	// Last: it kills a node. The ingest's persistent session (clean=false) has a quorum
	// queue with replicas on every node; its leader is on the node where it was declared.
	t.Run("a persistent QoS 1 session survives a kill -9 of its node", func(t *testing.T) {
		ingest := connectMQTT(t, c.Node(0).URL(), as("ingest-1", "svc", false))
		wait(t, ingest.Subscribe("vagt/v1/gw/+/telemetry", 1, nil))
		ingest.Disconnect(100)
		const before, during = 50, 50
		pub := connectMQTT(t, c.Node(1).URL(), as("gw1-pub", "gw1", true))
		for i := range before {
			wait(t, pub.Publish("vagt/v1/gw/gw1/telemetry", 1, false, fmt.Sprint(i)))
		}
		// And a gateway with a will on the node that dies: its will lives in its
		// connection's process there, so nobody is left to publish it.
		wills := make(chan mqtt.Message, 1)
		watcher := connectMQTT(t, c.Node(1).URL(), as("svc-will-watch", "svc", true))
		wait(t, watcher.Subscribe("vagt/v1/gw/gw2/status", 1, func(_ mqtt.Client, m mqtt.Message) { wills <- m }))
		conn := rawConnect(t, c.Node(0).URL(), connectWithWill("gw2-on-dying-node", "gw2", "gw2", "vagt/v1/gw/gw2/status", "offline"))
		defer conn.Close()
		if err := c.Node(0).Kill(); err != nil {
			t.Fatal(err)
		}
		// While the queue's leader is dead: each publish must be acknowledged (after the
		// new leader's election), as a gateway's spool requires.
		for i := before; i < before+during; i++ {
			publishUntilAckedAs(t, c.Node(1).URL(), "gw1-pub", "gw1", "vagt/v1/gw/gw1/telemetry", fmt.Sprint(i))
		}
		got := make(chan mqtt.Message, before+during)
		opts := as("ingest-1", "svc", false).SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m })
		connectMQTT(t, c.Node(2).URL(), opts)
		seen := map[string]bool{}
		for len(seen) < before+during {
			seen[string(receive(t, got).Payload())] = true
		}
		select {
		case m := <-wills:
			t.Errorf("the will of a client of the killed node was published after all (%q): docs/scaling.md says otherwise", m.Payload())
		case <-time.After(5 * time.Second):
			t.Log("the will of the killed node's client was never published")
		}
		watcher.Disconnect(100)
		if err := c.Node(0).Start(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// publishUntilAckedAs is publishUntilAcked with a user name (password = user).
func publishUntilAckedAs(t *testing.T, url, id, user, topic, payload string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		client := mqtt.NewClient(clientOptions(id, true).AddBroker(url).SetUsername(user).SetPassword(user))
		tok := client.Connect()
		if tok.WaitTimeout(waitFor) && tok.Error() == nil {
			pub := client.Publish(topic, 1, false, payload)
			ok := pub.WaitTimeout(waitFor) && pub.Error() == nil
			client.Disconnect(250)
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no broker acknowledged %q within a minute", payload)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rawConnect sends a CONNECT on a new TCP connection and waits for its CONNACK (accepted).
func rawConnect(t *testing.T, url string, connect []byte) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(connect); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	_ = conn.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadFull(conn, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK % x, %v", ack, err)
	}
	return conn
}

// connectWithWill is an MQTT 3.1.1 CONNECT with user, password and a QoS 1 will.
func connectWithWill(id, user, password, willTopic, will string) []byte {
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	payload := str(id)
	payload = append(payload, str(willTopic)...)
	payload = append(payload, str(will)...)
	payload = append(payload, str(user)...)
	payload = append(payload, str(password)...)
	flags := byte(0x80 | 0x40 | 0x08 | 0x04 | 0x02) // user, password, will QoS 1, will, clean
	variable := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 30}, payload...)
	return append([]byte{0x10, byte(len(variable))}, variable...)
}
