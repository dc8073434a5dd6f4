package mqttsub_test

import (
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/internal/backoff"
	"github.com/vagt-dk/vagt/internal/mqttsub"
	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func connect(t *testing.T, url, user, password string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(t.Name()).
		SetUsername(user).SetPassword(password).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// A broker that refuses a filter answers 0x80 and paho completes the token without an
// error: only Check tells a refusal from a grant.
func TestCheckNamesEveryRefusedFilter(t *testing.T) {
	b := refusetest.Start(t, "denied/a", "denied/b")
	c := connect(t, b.URL(), refusetest.User, refusetest.Password)

	tok := c.SubscribeMultiple(map[string]byte{"allowed/x": 1, "denied/b": 1, "denied/a": 0}, nil)
	err := mqttsub.Check(tok, 30*time.Second)
	if tok.Error() != nil {
		t.Fatalf("paho reported the refusal itself (%v): Check's reason to be is gone", tok.Error())
	}
	if !errors.Is(err, mqttsub.ErrRefused) {
		t.Fatalf("Check = %v, want ErrRefused (SUBACK %v)", err, tok.(*mqtt.SubscribeToken).Result())
	}
	if got := mqttsub.Refused(err); !slices.Equal(got, []string{"denied/a", "denied/b"}) {
		t.Fatalf("refused topics = %q, want denied/a and denied/b (not allowed/x)", got)
	}
	if want := "the broker refused the subscription: denied/a, denied/b"; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
	if err := mqttsub.Check(c.Subscribe("allowed/y", 1, nil), 30*time.Second); err != nil {
		t.Fatalf("a granted subscription: %v", err)
	}
	if got := mqttsub.Refused(nil); got != nil {
		t.Fatalf("Refused(nil) = %q", got)
	}
	// The operator lifts the refusal of one filter: granted once the client is back.
	b.Allow("denied/a")
	c = connect(t, b.URL(), refusetest.User, refusetest.Password)
	err = mqttsub.Check(c.SubscribeMultiple(map[string]byte{"denied/a": 1, "denied/b": 1}, nil), 30*time.Second)
	if got := mqttsub.Refused(err); !slices.Equal(got, []string{"denied/b"}) {
		t.Fatalf("after Allow(denied/a): %v", err)
	}
}

// The broker of the subscribers' tests: refusing all, then granting without a reconnect.
func TestRefuseAllThenAllow(t *testing.T) {
	b := refusetest.StartRefusingAll(t)
	c := connect(t, b.URL(), refusetest.User, refusetest.Password)
	if err := mqttsub.Check(c.Subscribe("any/x", 1, nil), 30*time.Second); !errors.Is(err, mqttsub.ErrRefused) {
		t.Fatalf("Check = %v, want ErrRefused", err)
	}
	b.AllowAll()
	if err := mqttsub.Check(c.Subscribe("any/x", 1, nil), 30*time.Second); err != nil {
		t.Fatalf("after AllowAll, on the same connection: %v", err)
	}
}

// Mosquitto's acl_file (what deploy/mosquitto configures) does not refuse: Mosquitto
// 2.0 grants a SUBSCRIBE its ACL denies and withholds the messages. No SUBACK check can see
// that; this test records it so that the day Mosquitto starts refusing, we hear of it.
func TestACLFileGrantsDeniedSubscription(t *testing.T) {
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{
		Users: map[string]string{"reader": "pw", "writer": "pw"},
		ACL:   "user reader\ntopic read allowed/#\nuser writer\ntopic write #",
	})
	c := connect(t, m.URL(), "reader", "pw")
	got := make(chan string, 4)
	tok := c.SubscribeMultiple(map[string]byte{"allowed/x": 1, "denied/x": 1}, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() })
	if err := mqttsub.Check(tok, 30*time.Second); err != nil {
		t.Fatalf("Mosquitto's acl_file now refuses subscriptions (%v): update refusetest's doc, deploy/mosquitto and docs/resilience.md", err)
	}
	w := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("writer").SetUsername("writer").SetPassword("pw"))
	if tok := w.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer w.Disconnect(0)
	for _, topic := range []string{"denied/x", "allowed/x"} { // in order: denied/x would arrive first
		if tok := w.Publish(topic, 1, false, "m"); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	select {
	case topic := <-got:
		if topic != "allowed/x" {
			t.Fatalf("received %s: the ACL let a denied message through", topic)
		}
	case <-time.After(30 * time.Second): // a bound, not a target
		t.Fatal("allowed/x never arrived")
	}
}

// A broker that takes the SUBSCRIBE and never answers: ErrNoAnswer, not success. (No real
// broker does this on purpose, so a listener that answers CONNECT and nothing else.)
func TestCheckNoAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		var hdr [2]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil { // CONNECT, remaining length < 128
			return
		}
		if _, err := io.CopyN(io.Discard, conn, int64(hdr[1])); err != nil {
			return
		}
		conn.Write([]byte{0x20, 0x02, 0, 0}) // CONNACK accepted
		io.Copy(io.Discard, conn)            // SUBSCRIBE, PINGREQ …: never answered
	}()
	c := connect(t, "tcp://"+ln.Addr().String(), "", "")
	err = mqttsub.Check(c.Subscribe("any/topic", 1, nil), 200*time.Millisecond)
	if !errors.Is(err, mqttsub.ErrNoAnswer) || errors.Is(err, mqttsub.ErrRefused) {
		t.Fatalf("Check = %v, want ErrNoAnswer", err)
	}
}

// A token that ended in an error (the connection is gone) is that error.
func TestCheckTokenError(t *testing.T) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:1").SetClientID("never-connected"))
	err := mqttsub.Check(c.Subscribe("any/topic", 1, nil), time.Second)
	if err == nil || errors.Is(err, mqttsub.ErrRefused) || errors.Is(err, mqttsub.ErrNoAnswer) {
		t.Fatalf("Check on a client never connected = %v", err)
	}
}

// Until asks again after each failure and stops asking when told to or when the
// connection is gone.
func TestUntil(t *testing.T) {
	b := backoff.New(time.Millisecond, time.Millisecond, "t")
	calls, failures := 0, 0
	ok := mqttsub.Until(nil, func() bool { return true }, b, func() error {
		calls++
		if calls < 3 {
			return &mqttsub.RefusedError{Topics: []string{"a"}}
		}
		return nil
	}, func(error) { failures++ })
	if !ok || calls != 3 || failures != 2 {
		t.Fatalf("Until = %v after %d calls, %d failures", ok, calls, failures)
	}
	calls = 0
	ok = mqttsub.Until(nil, func() bool { return false }, b, func() error { calls++; return mqttsub.ErrNoAnswer }, func(error) {})
	if ok || calls != 1 {
		t.Fatalf("connection gone: Until = %v after %d calls", ok, calls)
	}
	stop := make(chan struct{})
	close(stop)
	slow := backoff.New(time.Hour, time.Hour, "t")
	slow.NoJitter = true
	if mqttsub.Until(stop, func() bool { return true }, slow, func() error { return mqttsub.ErrNoAnswer }, func(error) {}) {
		t.Fatal("Until succeeded after stop")
	}
}
