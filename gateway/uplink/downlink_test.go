package uplink

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func nextDownlink(t *testing.T, u *Uplink, want string) {
	t.Helper()
	select {
	case p := <-u.Downlinks():
		if string(p) != want {
			t.Fatalf("downlink %q, want %q", p, want)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%q did not arrive within a minute", want)
	}
}

// The downlink lane reaches the gateway in order, and what the api publishes while the
// gateway is away waits in its persistent session and arrives when it is back.
func TestDownlinkLaneDelivered(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	api := collect(t, broker.URL(), "api", "nothing/here")
	publish := func(p string) {
		t.Helper()
		tok := api.c.Publish(vagt.Topic(gw, vagt.LaneDownlink), 1, false, []byte(p))
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	q := newSpool(t)
	u, stop := start(t, Options{Broker: broker.URL()}, q)
	waitFor(t, "connected", u.Connected)
	// The subscription follows the connect; the status it publishes after it is the sign.
	col := collect(t, broker.URL(), "status-reader", vagt.Topic(gw, vagt.LaneStatus))
	col.wait(t, "online status", func(m []mqtt.Message) bool { return len(m) > 0 })
	publish("received 1001")
	publish("acknowledged 1001")
	nextDownlink(t, u, "received 1001")
	nextDownlink(t, u, "acknowledged 1001")

	stop()
	publish("resolved 1001") // the gateway is away
	u2, _ := start(t, Options{Broker: broker.URL()}, q)
	nextDownlink(t, u2, "resolved 1001")
}

// TestPairDownlinksFromBothLinks: a Pair subscribes to the downlink lane on both brokers and
// hands on every message of either, each link's in order — also a message that arrives on
// both (the receiver folds it), and with the primary's broker killed.
func TestPairDownlinksFromBothLinks(t *testing.T) {
	brokerA, brokerB := stacktest.Mosquitto(t), stacktest.Mosquitto(t)
	p := startPair(t, Options{Broker: brokerA.URL()}, Options{Broker: brokerB.URL()}, newSpool(t), PairOptions{})
	waitFor(t, "both links up", func() bool { return p.linkUp(primary) && p.linkUp(secondary) })
	apis := make([]*collector, 2)
	for i, b := range []string{brokerA.URL(), brokerB.URL()} {
		// The subscriptions follow the connect; the status published after them is the sign.
		col := collect(t, b, "status-reader", vagt.Topic(gw, vagt.LaneStatus))
		col.wait(t, "online status", func(m []mqtt.Message) bool { return len(m) > 0 })
		apis[i] = collect(t, b, "api", "nothing/here")
	}
	publish := func(link int, payload string) {
		t.Helper()
		tok := apis[link].c.Publish(vagt.Topic(gw, vagt.LaneDownlink), 1, false, []byte(payload))
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	next := func() string {
		t.Helper()
		select {
		case d := <-p.Downlinks():
			return string(d)
		case <-time.After(time.Minute):
			t.Fatal("no downlink from the pair within a minute")
		}
		return ""
	}
	publish(primary, "received 1")
	publish(secondary, "received 2")
	publish(secondary, "acknowledged 2")
	publish(primary, "acknowledged 1")
	publish(secondary, "acknowledged 1") // the same news on both brokers
	var got []string
	for range 5 {
		got = append(got, next())
	}
	sorted := slices.Sorted(slices.Values(got))
	if fmt.Sprint(sorted) != "[acknowledged 1 acknowledged 1 acknowledged 2 received 1 received 2]" ||
		slices.Index(got, "received 1") > slices.Index(got, "acknowledged 1") ||
		slices.Index(got, "received 2") > slices.Index(got, "acknowledged 2") {
		t.Fatalf("downlinks %v: want every one, each link's in order", got)
	}

	if err := brokerA.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the primary seen down", func() bool { return !p.linkUp(primary) })
	publish(secondary, "resolved 2")
	if d := next(); d != "resolved 2" {
		t.Fatalf("downlink %q with the primary down, want resolved 2", d)
	}
}

// TestFullDownlinkBufferHoldsNoAcknowledgement: downlink messages nobody takes (the pipeline
// is busy, or stuck) must not hold up what else arrives on the connection — paho reads a
// PUBACK only after it has handed on the message before it, so a downlink handler that
// waits holds every alarm's acknowledgement behind it. With the buffer full and the api
// publishing downlinks without pause, an alarm is still acknowledged while the flood lasts.
func TestFullDownlinkBufferHoldsNoAcknowledgement(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	api := collect(t, broker.URL(), "api", "nothing/here")
	q := newSpool(t)
	u, _ := start(t, Options{Broker: broker.URL()}, q)
	waitFor(t, "connected", u.Connected)
	col := collect(t, broker.URL(), "status-reader", vagt.Topic(gw, vagt.LaneStatus))
	col.wait(t, "online status", func(m []mqtt.Message) bool { return len(m) > 0 })

	// Nobody reads u.Downlinks(). Fill the buffer, then keep publishing for up to 30 s.
	// The alarm goes out once dozens more wait behind the full buffer, so its PUBACK comes
	// after them on the connection.
	flood := time.Now().Add(30 * time.Second)
	stop, done := make(chan struct{}), make(chan int64)
	var published atomic.Int64
	go func() {
		for time.Now().Before(flood) {
			select {
			case <-stop:
				done <- published.Load()
				return
			default:
			}
			api.c.Publish(vagt.Topic(gw, vagt.LaneDownlink), 1, false, fmt.Appendf(nil, "received %d", published.Load()))
			published.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
		done <- published.Load()
	}()
	waitFor(t, "the downlink buffer full", func() bool { return len(u.Downlinks()) == cap(u.Downlinks()) })
	waitFor(t, "more downlinks behind the full buffer", func() bool { return published.Load() > int64(cap(u.Downlinks()))+40 })
	if _, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic}); err != nil {
		t.Fatal(err)
	}
	for q.Stats().Alarms != 0 && time.Now().Before(flood) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	n := <-done
	if a := q.Stats().Alarms; a != 0 {
		t.Fatalf("the alarm was not acknowledged during a flood of %d downlink messages nobody took: the downlink handler holds the connection", n)
	}
	// What was dropped is counted, oldest first: the newest message reaches the pipeline,
	// and what it takes is in the order published.
	last, prev := fmt.Sprintf("received %d", n-1), -1
	for got := ""; got != last; {
		select {
		case p := <-u.Downlinks():
			got = string(p)
			var i int
			if _, err := fmt.Sscanf(got, "received %d", &i); err != nil || i <= prev {
				t.Fatalf("downlink %q after number %d: not in the order published", got, prev)
			}
			prev = i
		case <-time.After(time.Minute):
			t.Fatalf("the newest downlink %q never reached the pipeline (last taken: %d)", last, prev)
		}
	}
	if u.DownlinksDropped() == 0 {
		t.Fatal("no downlink counted as dropped, with more published than the buffer holds and none taken")
	}
	t.Logf("alarm acknowledged with the downlink buffer full; %d downlink messages published, %d dropped", n, u.DownlinksDropped())
}
