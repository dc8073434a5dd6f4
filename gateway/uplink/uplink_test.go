package uplink

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/spool"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

const gw vagt.GatewayID = "gw-0042"

var t0 = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

// collector is a platform-side consumer with a persistent session.
type collector struct {
	mu   sync.Mutex
	msgs []mqtt.Message
	got  chan struct{}
	c    mqtt.Client
}

func collect(t *testing.T, url, id, filter string) *collector {
	t.Helper()
	col := &collector{got: make(chan struct{}, 1)}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			col.mu.Lock()
			col.msgs = append(col.msgs, m)
			col.mu.Unlock()
			select {
			case col.got <- struct{}{}:
			default:
			}
		})
	col.c = mqtt.NewClient(o)
	if tok := col.c.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("collector connect: %v", tok.Error())
	}
	if tok := col.c.Subscribe(filter, 1, nil); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("collector subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { col.c.Disconnect(100) })
	return col
}

// wait waits until cond holds over the messages so far, or fails after a minute (a
// bound against hanging, not a timing assertion).
func (c *collector) wait(t *testing.T, what string, cond func([]mqtt.Message) bool) []mqtt.Message {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		c.mu.Lock()
		msgs := append([]mqtt.Message(nil), c.msgs...)
		c.mu.Unlock()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-c.got:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited a minute for %s; have %d messages", what, len(msgs))
		}
	}
}

func newSpool(t *testing.T) *spool.Queue {
	t.Helper()
	q, err := spool.Open(spool.Options{Path: filepath.Join(t.TempDir(), "spool.db"), Gateway: gw, Municipality: 766, BatchReadings: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func fill(t *testing.T, q *spool.Queue, readings, alarms int) {
	t.Helper()
	rs := make([]vagt.Reading, readings)
	for i := range rs {
		rs[i] = vagt.Reading{Device: "dev-1", Kind: vagt.KindBattery, Time: t0.Add(time.Duration(i) * time.Second), Value: float64(i % 100)}
	}
	if err := q.AddReadings(rs); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Cut(true); err != nil {
		t.Fatal(err)
	}
	for range alarms {
		if _, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic}); err != nil {
			t.Fatal(err)
		}
	}
}

func start(t *testing.T, opts Options, q Queue) (*Uplink, func()) {
	t.Helper()
	opts.Gateway = gw
	opts.Logger = nil
	u, err := New(opts, q, func() vagt.Status {
		return vagt.Status{Municipality: 766, Software: "vagt-gateway test", Inventory: []vagt.DeviceStatus{{Device: "bu-17:btn", Technology: vagt.TechPersonalAlarm, Battery: -1}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return u, stop
}

// TestOutageThenAlarmsFirst: the broker is down while the spool fills; nothing is lost,
// and when it comes back the alarms arrive before the telemetry, batches in seq order.
func TestOutageThenAlarmsFirst(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	col := collect(t, broker.URL(), "platform-test", "vagt/v1/gw/+/+")
	if err := broker.Stop(); err != nil {
		t.Fatal(err)
	}
	q := newSpool(t)
	u, _ := start(t, Options{Broker: broker.URL(), KeepAlive: 2 * time.Second, MaxBackoff: time.Second}, q)
	fill(t, q, 45, 3) // 5 batches, then 3 alarms: the alarms must still go first
	if u.Sent() != 0 || q.Stats().Depth() != 48 {
		t.Fatalf("sent %d with the broker down; depth %d", u.Sent(), q.Stats().Depth())
	}
	if err := broker.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := col.wait(t, "3 alarms and 5 batches", func(m []mqtt.Message) bool { return distinct(m) >= 8 })
	var lanes []string
	var seqs []uint64
	seen := map[string]string{}
	for _, m := range msgs {
		_, lane, _ := vagt.ParseTopic(m.Topic())
		// An exact redelivery (same lane and seq, same bytes) is allowed; anything else twice is not.
		key := fmt.Sprintf("%s/%x", lane, seqOf(t, lane, m.Payload()))
		if prev, dup := seen[key]; dup {
			if prev != string(m.Payload()) {
				t.Fatalf("%s sent twice with different bytes", key)
			}
			continue
		}
		seen[key] = string(m.Payload())
		switch lane {
		case vagt.LaneAlarm:
			lanes = append(lanes, "A")
		case vagt.LaneTelemetry:
			lanes = append(lanes, "T")
			b, err := vagt.DecodeBatch(m.Payload())
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, b.Seq)
		}
	}
	if fmt.Sprint(lanes) != "[A A A T T T T T]" {
		t.Fatalf("order %v, want the alarms first", lanes)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("batch seqs %v out of order", seqs)
		}
	}
	waitFor(t, "spool empty", func() bool { return q.Stats().Depth() == 0 })
}

func seqOf(t *testing.T, lane vagt.Lane, p []byte) uint64 {
	t.Helper()
	switch lane {
	case vagt.LaneAlarm:
		a, err := vagt.DecodeAlarm(p)
		if err != nil {
			t.Fatal(err)
		}
		return a.Seq
	case vagt.LaneTelemetry:
		b, err := vagt.DecodeBatch(p)
		if err != nil {
			t.Fatal(err)
		}
		return b.Seq
	}
	return 0
}

// distinct counts alarm and telemetry messages, an exact redelivery once.
func distinct(msgs []mqtt.Message) int {
	seen := map[string]bool{}
	for _, m := range msgs {
		if _, l, err := vagt.ParseTopic(m.Topic()); err == nil && (l == vagt.LaneAlarm || l == vagt.LaneTelemetry) {
			seen[m.Topic()+string(m.Payload())] = true
		}
	}
	return len(seen)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, time.Minute, cond)
}

// TestRetainedStatusAndOfflineOnShutdown: a late subscriber finds the online status with
// the inventory; after a clean stop the retained status says offline.
func TestRetainedStatusAndOfflineOnShutdown(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	q := newSpool(t)
	u, stop := start(t, Options{Broker: broker.URL(), Heartbeat: time.Second}, q)
	waitFor(t, "connected", u.Connected)
	col := collect(t, broker.URL(), "status-reader", vagt.Topic(gw, vagt.LaneStatus))
	msgs := col.wait(t, "online status", func(m []mqtt.Message) bool { return len(m) > 0 })
	s, err := vagt.DecodeStatus(msgs[0].Payload())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Online || len(s.Inventory) != 1 || s.Municipality != 766 || s.Heartbeat != time.Second {
		t.Fatalf("status %+v", s)
	}
	// The heartbeat republishes it.
	col.wait(t, "a heartbeat", func(m []mqtt.Message) bool { return len(m) >= 2 })
	stop()
	late := collect(t, broker.URL(), "late-reader", vagt.Topic(gw, vagt.LaneStatus))
	msgs = late.wait(t, "retained status", func(m []mqtt.Message) bool { return len(m) > 0 })
	if s, err := vagt.DecodeStatus(msgs[0].Payload()); err != nil || s.Online || !msgs[0].Retained() {
		t.Fatalf("after shutdown: %+v %v retained=%v", s, err, msgs[0].Retained())
	}
}

func TestConfigLaneDelivered(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	pub := collect(t, broker.URL(), "api", "nothing/here")
	tok := pub.c.Publish(vagt.Topic(gw, vagt.LaneConfig), 1, true, []byte("config v7"))
	if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	u, _ := start(t, Options{Broker: broker.URL()}, newSpool(t))
	select {
	case p := <-u.Configs():
		if string(p) != "config v7" {
			t.Fatalf("config %q", p)
		}
	case <-time.After(time.Minute):
		t.Fatal("no config within a minute")
	}
}

// TestDrainRateLetsAlarmsPass: a backlog drains at the configured rate, and an alarm that
// arrives while telemetry is held back goes out before the next batch.
func TestDrainRateLetsAlarmsPass(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	col := collect(t, broker.URL(), "platform-drain", "vagt/v1/gw/+/+")
	q := newSpool(t)
	fill(t, q, 30, 0) // three batches of 10
	// 0.01 readings/s: the first batch goes at once, the next not for 1000 s — far past
	// the collector's one-minute bound, so the alarm must not wait behind it.
	start(t, Options{Broker: broker.URL(), DrainRate: 0.01}, q)
	col.wait(t, "the first batch", func(m []mqtt.Message) bool { return countLane(m, vagt.LaneTelemetry) >= 1 })
	fill(t, q, 0, 1)
	msgs := col.wait(t, "the alarm", func(m []mqtt.Message) bool { return countLane(m, vagt.LaneAlarm) >= 1 })
	// Distinct batches, by seq: the broker may hand the collector one publish twice (seen
	// under load: one publish by the uplink, two deliveries), an exact redelivery that
	// consumers recognise by gateway and seq. A second batch would be a different seq.
	if seqs := batchSeqs(t, msgs); len(seqs) != 1 {
		t.Fatalf("batches %v before the alarm; the drain rate allows 1", seqs)
	}
}

// batchSeqs returns the distinct seqs of the telemetry batches among msgs.
func batchSeqs(t *testing.T, msgs []mqtt.Message) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, m := range msgs {
		if _, l, err := vagt.ParseTopic(m.Topic()); err != nil || l != vagt.LaneTelemetry {
			continue
		}
		b, err := vagt.DecodeBatch(m.Payload())
		if err != nil {
			t.Fatalf("a telemetry message that does not decode: %v", err)
		}
		if !slices.Contains(seqs, b.Seq) {
			seqs = append(seqs, b.Seq)
		}
	}
	return seqs
}

func countLane(msgs []mqtt.Message, lane vagt.Lane) int {
	n := 0
	for _, m := range msgs {
		if _, l, err := vagt.ParseTopic(m.Topic()); err == nil && l == lane {
			n++
		}
	}
	return n
}

func TestLimiter(t *testing.T) {
	l := newLimiter(100, 500) // 100 readings/s, a batch of 500 at once
	now := t0
	sent := 0
	for sent < 5 {
		if d := l.wait(now, 500); d > 0 {
			now = now.Add(d) // the sender waits (or looks for alarms meanwhile)
			continue
		}
		l.take(now, 500)
		sent++
	}
	// 2500 readings, 500 free: 2000 at 100/s is 20 s.
	if waited := now.Sub(t0); waited != 20*time.Second {
		t.Fatalf("waited %s for 2500 readings at 100/s with a burst of 500, want 20s", waited)
	}
	if d := l.wait(now.Add(time.Hour), 500); d != 0 {
		t.Fatalf("after an idle hour: wait %s", d)
	}
	// A batch larger than the burst waits for a full bucket, then goes into debt.
	l.take(now.Add(time.Hour), 500)
	if d := l.wait(now.Add(time.Hour), 2000); d != 5*time.Second {
		t.Fatalf("an oversized batch after an empty bucket: wait %s, want 5s", d)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	if c, err := TLSConfig("", "", ""); c != nil || err != nil {
		t.Fatalf("no files: %v %v", c, err)
	}
	if _, err := TLSConfig(filepath.Join(t.TempDir(), "missing.pem"), "", ""); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}
