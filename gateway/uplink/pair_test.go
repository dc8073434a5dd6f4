package uplink

import (
	"context"
	"fmt"
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

// received is one message a platform-side subscriber got, with when.
type received struct {
	lane   vagt.Lane
	seq    uint64
	online bool // a status message's Online
}

// platform subscribes to every lane of the gateway on one broker, with a persistent session
// so that it also gets what was published while it was away.
type platform struct {
	col        *collector
	t          *testing.T
	subscribed chan error // watchKilled: each (re)subscription
}

func watch(t *testing.T, url, id string) *platform {
	return &platform{col: collect(t, url, id, "vagt/v1/gw/+/+"), t: t}
}

// watchKilled is watch for a broker that will be killed: a killed Mosquitto may not have
// saved the subscription, so it subscribes again on every connect.
func watchKilled(t *testing.T, url, id string) *platform {
	t.Helper()
	col := &collector{got: make(chan struct{}, 1)}
	const filter = "vagt/v1/gw/+/+"
	subscribed := make(chan error, 1)
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c mqtt.Client) {
			tok := c.Subscribe(filter, 1, nil)
			go func() {
				tok.WaitTimeout(20 * time.Second)
				select {
				case subscribed <- tok.Error():
				default:
				}
			}()
		}).
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
	t.Cleanup(func() { col.c.Disconnect(100) })
	p := &platform{col: col, t: t, subscribed: subscribed}
	p.waitSubscribed()
	return p
}

func (p *platform) waitSubscribed() {
	p.t.Helper()
	select {
	case err := <-p.subscribed:
		if err != nil {
			p.t.Fatalf("collector subscribe: %v", err)
		}
	case <-time.After(time.Minute):
		p.t.Fatal("collector not subscribed within a minute")
	}
}

// all returns what arrived so far, decoded; stamps are the collector's order, so the
// receive time is taken when first seen here.
func (p *platform) all() []received {
	p.t.Helper()
	p.col.mu.Lock()
	msgs := append([]mqtt.Message(nil), p.col.msgs...)
	p.col.mu.Unlock()
	var out []received
	for _, m := range msgs {
		_, lane, err := vagt.ParseTopic(m.Topic())
		if err != nil {
			continue
		}
		r := received{lane: lane}
		switch lane {
		case vagt.LaneAlarm, vagt.LaneTelemetry:
			r.seq = seqOf(p.t, lane, m.Payload())
		case vagt.LaneStatus:
			s, err := vagt.DecodeStatus(m.Payload())
			if err != nil {
				p.t.Fatal(err)
			}
			r.online = s.Online
		}
		out = append(out, r)
	}
	return out
}

func seqsOn(rs []received, lane vagt.Lane) []uint64 {
	var out []uint64
	for _, r := range rs {
		if r.lane == lane && !slices.Contains(out, r.seq) {
			out = append(out, r.seq)
		}
	}
	slices.Sort(out)
	return out
}

// stamped records when each telemetry batch first arrived on a broker (the collector keeps
// no times): it polls, so a time is at or after the arrival — only a lower bound is
// compared against it.
type stamped struct {
	mu    sync.Mutex
	first map[uint64]time.Time
}

func stampTelemetry(ctx context.Context, p *platform) *stamped {
	s := &stamped{first: map[uint64]time.Time{}}
	go func() {
		for ctx.Err() == nil {
			for _, r := range p.all() {
				if r.lane != vagt.LaneTelemetry {
					continue
				}
				s.mu.Lock()
				if _, ok := s.first[r.seq]; !ok {
					s.first[r.seq] = time.Now()
				}
				s.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return s
}

func startPair(t *testing.T, first, second Options, q Queue, po PairOptions) *Pair {
	t.Helper()
	for _, o := range []*Options{&first, &second} {
		o.Gateway = gw
		if o.KeepAlive == 0 {
			o.KeepAlive = 2 * time.Second
		}
		if o.MaxBackoff == 0 {
			o.MaxBackoff = time.Second
		}
	}
	p, err := NewPair(first, second, q, func() vagt.Status {
		return vagt.Status{Municipality: 766, Software: "vagt-gateway test"}
	}, po)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// linkUp reports what the pair believes of a link (what its decisions are made on).
func (p *Pair) linkUp(role int) bool {
	p.shared.mu.Lock()
	defer p.shared.mu.Unlock()
	return p.shared.up[role]
}

// TestPairAlarmThroughSecondWhenPrimaryKilled: the primary's broker is killed during a
// press. Every alarm arrives (deduplicated by seq across both brokers, exactly the seqs
// spooled); those pressed while the primary was down come through the secondary and are
// never sent on the primary, also not after it returns. Telemetry waits for the failover
// time before it takes the secondary, and goes back to the primary when it returns.
func TestPairAlarmThroughSecondWhenPrimaryKilled(t *testing.T) {
	brokerA := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	brokerB := stacktest.Mosquitto(t)
	platA, platB := watchKilled(t, brokerA.URL(), "platform-a"), watch(t, brokerB.URL(), "platform-b")
	q := newSpool(t)
	const failover = 4 * time.Second
	p := startPair(t, Options{Broker: brokerA.URL()}, Options{Broker: brokerB.URL()}, q,
		PairOptions{TelemetryFailoverAfter: failover})
	waitFor(t, "both links up", func() bool { return p.linkUp(primary) && p.linkUp(secondary) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stampsB := stampTelemetry(ctx, platB)

	var all []uint64 // every alarm seq spooled
	press := func() {
		seq, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
		if err != nil {
			t.Error(err)
		}
		all = append(all, seq)
	}
	press()
	waitFor(t, "the first alarm delivered", func() bool { return q.Stats().Alarms == 0 })

	// The press that races the kill: it may go on either link, or on both.
	killedAt := time.Now()
	killed := make(chan error, 1)
	go func() { killed <- brokerA.Kill() }()
	press()
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the primary seen down", func() bool { return !p.linkUp(primary) })
	var whileDown []uint64
	pressedAt := time.Now()
	for range 3 {
		press()
		whileDown = append(whileDown, all[len(all)-1])
	}
	platB.col.wait(t, "the alarms pressed while the primary is down", func([]mqtt.Message) bool {
		return len(seqsOn(platB.all(), vagt.LaneAlarm)) >= len(whileDown)
	})
	t.Logf("3 alarms pressed with the primary down: on the secondary's subscriber %s after the press", time.Since(pressedAt).Round(time.Millisecond))
	fill(t, q, 30, 0) // three batches: they must wait for the failover time
	waitFor(t, "alarms and batches delivered on the secondary", func() bool { return q.Stats().Depth() == 0 })
	waitFor(t, "three batches received from the secondary", func() bool {
		stampsB.mu.Lock()
		defer stampsB.mu.Unlock()
		return len(stampsB.first) >= 3
	})
	stampsB.mu.Lock()
	for seq, at := range stampsB.first {
		if at.Before(killedAt.Add(failover)) {
			t.Errorf("batch %d on the secondary %s after the kill; the failover time is %s", seq, at.Sub(killedAt), failover)
		}
	}
	onB := len(stampsB.first)
	stampsB.mu.Unlock()
	if onB != 3 {
		t.Fatalf("%d batches on the secondary, want 3", onB)
	}

	// The primary returns: telemetry goes back to it, and nothing the secondary delivered
	// is sent on it.
	if err := brokerA.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the primary back", func() bool { return p.linkUp(primary) })
	// The killed broker may have lost the subscriber's session: it subscribes again.
	platA.waitSubscribed()
	before := len(seqsOn(platB.all(), vagt.LaneTelemetry))
	fill(t, q, 20, 0)
	waitFor(t, "the new batches delivered", func() bool { return q.Stats().Depth() == 0 })
	platA.col.wait(t, "two batches on the primary", func([]mqtt.Message) bool {
		return len(seqsOn(platA.all(), vagt.LaneTelemetry)) >= 2
	})
	if after := len(seqsOn(platB.all(), vagt.LaneTelemetry)); after != before {
		t.Errorf("%d batches went on the secondary after the primary was back", after-before)
	}

	onA, onBAlarms := seqsOn(platA.all(), vagt.LaneAlarm), seqsOn(platB.all(), vagt.LaneAlarm)
	union := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(onA), onBAlarms...))))
	slices.Sort(all)
	if !slices.Equal(union, all) {
		t.Fatalf("alarms delivered %v (primary %v, secondary %v), spooled %v", union, onA, onBAlarms, all)
	}
	for _, seq := range whileDown {
		if slices.Contains(onA, seq) {
			t.Errorf("alarm %d, delivered on the secondary, was sent on the primary too", seq)
		}
		if !slices.Contains(onBAlarms, seq) {
			t.Errorf("alarm %d pressed while the primary was down is not on the secondary", seq)
		}
	}
	t.Logf("alarms on the primary %v, on the secondary %v; sent %d", onA, onBAlarms, p.Sent())
}

// TestPairHedgesAlarmOnSilentPrimary: the primary's link goes silent (no error, no
// PUBACK; its keep-alive is long, so it is not seen down) with an alarm in flight on it.
// The secondary sends the alarm after the hedge time. When the primary's connection
// breaks, the secondary says online on its broker at once; when the primary is back,
// paho does not resend the alarm it held, because the secondary's broker acknowledged it.
func TestPairHedgesAlarmOnSilentPrimary(t *testing.T) {
	brokerA, brokerB := stacktest.Mosquitto(t), stacktest.Mosquitto(t)
	hole := newBlackhole(t, brokerA.Addr())
	platA, platB := watch(t, brokerA.URL(), "platform-a"), watch(t, brokerB.URL(), "platform-b")
	q := newSpool(t)
	// A long heartbeat: a status on the secondary after the primary falls is the pair's.
	first := Options{Broker: hole.url(), Heartbeat: 10 * time.Minute, KeepAlive: 10 * time.Minute}
	second := Options{Broker: brokerB.URL(), Heartbeat: 10 * time.Minute}
	p := startPair(t, first, second, q, PairOptions{AlarmHedge: time.Second, TelemetryFailoverAfter: time.Hour})
	waitFor(t, "both links up", func() bool { return p.linkUp(primary) && p.linkUp(secondary) })
	statusesB := func() int {
		n := 0
		for _, r := range platB.all() {
			if r.lane == vagt.LaneStatus && r.online {
				n++
			}
		}
		return n
	}
	platB.col.wait(t, "the secondary's online status", func([]mqtt.Message) bool { return statusesB() >= 1 })

	hole.swallow()
	pressedAt := time.Now()
	seq, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the alarm acknowledged", func() bool { return q.Stats().Alarms == 0 })
	t.Logf("alarm on a silent primary acknowledged by the secondary %s after the press (hedge 1s)", time.Since(pressedAt).Round(time.Millisecond))
	if !slices.Contains(seqsOn(platB.all(), vagt.LaneAlarm), seq) {
		t.Fatalf("alarm %d acknowledged but not on the secondary", seq)
	}
	if !p.linkUp(primary) {
		t.Fatal("the primary was seen down: the alarm was not hedged but failed over")
	}

	statusBefore := statusesB()
	hole.heal() // the primary's connection breaks; it reconnects
	platB.col.wait(t, "an online status on the secondary after the primary fell", func([]mqtt.Message) bool {
		return statusesB() > statusBefore
	})
	waitFor(t, "the primary back", func() bool { return p.linkUp(primary) })
	// A batch after the reconnect: paho resends what it held before anything new, so when
	// the batch is there, a resent alarm would be too.
	fill(t, q, 10, 0)
	platA.col.wait(t, "a batch on the primary", func([]mqtt.Message) bool {
		return len(seqsOn(platA.all(), vagt.LaneTelemetry)) >= 1
	})
	if onA := seqsOn(platA.all(), vagt.LaneAlarm); slices.Contains(onA, seq) {
		t.Fatalf("alarm %d, acknowledged on the secondary, was resent on the primary", seq)
	}
}

// TestPairViewDecisions: which link the shared spool hands an item to, without brokers.
func TestPairViewDecisions(t *testing.T) {
	q := newSpool(t)
	now := t0
	s := &shared{q: q, po: PairOptions{AlarmHedge: 3 * time.Second, TelemetryFailoverAfter: time.Minute},
		now: func() time.Time { return now }, claims: map[itemKey]*claim{}, acks: map[itemKey]bool{}}
	var vs [2]*view
	for role := range vs {
		vs[role] = &view{s: s, role: role, ready: make(chan struct{}, 1)}
		s.views[role] = vs[role]
		s.downSince[role] = now
	}
	s.up = [2]bool{true, true}
	next := func(role int) (spool.Item, bool) {
		t.Helper()
		it, ok, err := vs[role].Next()
		if err != nil {
			t.Fatal(err)
		}
		return it, ok
	}

	fill(t, q, 10, 1)
	if _, ok := next(secondary); ok {
		t.Fatal("the secondary took a fresh alarm while the primary is up")
	}
	a, ok := next(primary)
	if !ok || a.Lane != vagt.LaneAlarm {
		t.Fatalf("the primary got %+v %v, want the alarm", a, ok)
	}
	now = now.Add(3 * time.Second)
	if _, ok := next(secondary); !ok {
		t.Fatal("the secondary did not hedge an alarm unacknowledged for the hedge time")
	}
	if err := vs[secondary].Ack(a); err != nil {
		t.Fatal(err)
	}
	if !vs[primary].acked(keyOf(a)) {
		t.Fatal("an alarm acknowledged on the secondary is not known acknowledged")
	}
	// The primary had no PUBACK for it: its next alarm goes on the secondary at once too.
	fill(t, q, 0, 1)
	a2, ok := next(primary)
	if !ok {
		t.Fatal("the primary did not take the next alarm")
	}
	if _, ok := next(secondary); !ok {
		t.Fatal("the secondary waited the hedge time for an alarm on a suspect primary")
	}
	if err := vs[primary].Ack(a2); err != nil {
		t.Fatal(err)
	}
	vs[primary].Release(a) // its publish of the first comes back later: nothing to resend
	vs[secondary].Release(a2)
	fill(t, q, 0, 1)
	a3, _ := next(primary)
	if _, ok := next(secondary); ok {
		t.Fatal("the secondary took a fresh alarm after the primary had a PUBACK again")
	}
	if err := vs[primary].Ack(a3); err != nil {
		t.Fatal(err)
	}

	// Telemetry: the primary's, until it has been down for the failover time.
	if _, ok := next(secondary); ok {
		t.Fatal("the secondary took telemetry while the primary is up")
	}
	vs[primary].linkChanged(false)
	now = now.Add(59 * time.Second)
	if _, ok := next(secondary); ok {
		t.Fatal("the secondary took telemetry before the failover time")
	}
	now = now.Add(time.Second)
	b, ok := next(secondary)
	if !ok || b.Lane != vagt.LaneTelemetry {
		t.Fatalf("the secondary got %+v %v after the failover time, want the batch", b, ok)
	}
	vs[primary].linkChanged(true)
	if _, ok := next(primary); ok {
		t.Fatal("the primary took the batch in flight on the secondary")
	}
	vs[secondary].Release(b)
	if _, ok := next(secondary); ok {
		t.Fatal("the secondary took telemetry with the primary back")
	}
	b2, ok := next(primary)
	if !ok || b2.Seq != b.Seq {
		t.Fatalf("the primary got %+v %v, want batch %d", b2, ok, b.Seq)
	}

	// An alarm while the primary waits for a batch's PUBACK: the secondary sends it at once.
	fill(t, q, 0, 1)
	if a, ok := next(secondary); !ok || a.Lane != vagt.LaneAlarm {
		t.Fatalf("the secondary got %+v %v with the primary busy with a batch, want the alarm", a, ok)
	}
}

// TestPairConfigsFromEitherLink: a configuration published on either broker reaches the
// gateway; one not yet taken is not replaced by an older version from the other broker.
func TestPairConfigsFromEitherLink(t *testing.T) {
	brokerA, brokerB := stacktest.Mosquitto(t), stacktest.Mosquitto(t)
	config := func(v uint64) []byte {
		t.Helper()
		data, err := vagt.EncodeConfig(&vagt.HomeConfig{Gateway: gw, Version: v, Municipality: 766})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	p := startPair(t, Options{Broker: brokerA.URL()}, Options{Broker: brokerB.URL()}, newSpool(t), PairOptions{})
	waitFor(t, "both links up", func() bool { return p.linkUp(primary) && p.linkUp(secondary) })
	for i, b := range []*localstack.Mosquitto{brokerB, brokerA} {
		api := collect(t, b.URL(), "api", "nothing/here")
		v := uint64(5 + i)
		if tok := api.c.Publish(vagt.Topic(gw, vagt.LaneConfig), 1, true, config(v)); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		select {
		case got := <-p.Configs():
			if configVersion(got) != v {
				t.Fatalf("config version %d, want %d", configVersion(got), v)
			}
		case <-time.After(time.Minute):
			t.Fatalf("config %d not delivered within a minute", v)
		}
	}

	q := &Pair{configs: make(chan []byte, 1)}
	q.handOver(config(7))
	q.handOver(config(3)) // the other broker's older one, while 7 waits
	if v := configVersion(<-q.configs); v != 7 {
		t.Fatalf("pending config %d, want 7", v)
	}
	q.handOver(config(3))
	q.handOver(config(8))
	if v := configVersion(<-q.configs); v != 8 {
		t.Fatalf("pending config %d, want 8", v)
	}
}

// TestPairStatusOnBoth: each link keeps the retained online status on its own broker, and
// a clean stop leaves offline on both (the will covers a link that dies).
func TestPairStatusOnBoth(t *testing.T) {
	brokers := []*localstack.Mosquitto{stacktest.Mosquitto(t), stacktest.Mosquitto(t)}
	opts := func(b *localstack.Mosquitto) Options {
		return Options{Broker: b.URL(), Gateway: gw, Heartbeat: time.Second}
	}
	p, err := NewPair(opts(brokers[0]), opts(brokers[1]), newSpool(t), func() vagt.Status {
		return vagt.Status{Municipality: 766, Software: "vagt-gateway test"}
	}, PairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	retained := func(b *localstack.Mosquitto, id string) vagt.Status {
		t.Helper()
		col := collect(t, b.URL(), id, vagt.Topic(gw, vagt.LaneStatus))
		// A live status (the heartbeat) may come before the retained one, when the link
		// publishes between the subscription and the broker's retained delivery (CI saw it).
		isRetained := func(m mqtt.Message) bool { return m.Retained() }
		msgs := col.wait(t, "a retained status", func(m []mqtt.Message) bool { return slices.ContainsFunc(m, isRetained) })
		m := msgs[slices.IndexFunc(msgs, isRetained)]
		s, err := vagt.DecodeStatus(m.Payload())
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		return s
	}
	waitFor(t, "both links up", func() bool { return p.linkUp(primary) && p.linkUp(secondary) })
	for i, b := range brokers {
		if s := retained(b, fmt.Sprintf("online-reader-%d", i)); !s.Online {
			t.Fatalf("broker %d: status offline with both links up", i)
		}
	}
	cancel()
	<-done
	for i, b := range brokers {
		if s := retained(b, fmt.Sprintf("offline-reader-%d", i)); s.Online {
			t.Fatalf("broker %d: retained status online after a clean stop", i)
		}
	}
}
