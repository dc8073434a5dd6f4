package alarmlane

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// A broker that refuses the lane's subscription (SUBACK 0x80: an ACL, a consumer limit)
// must not leave the lane saying it is up while no alarm can arrive. The lane says why it
// is down, counts each refusal, logs one error per burst naming the topics, and asks again
// while connected; once the broker grants it, an alarm arrives and the lane is up.
func TestRefusedSubscriptionIsNotUp(t *testing.T) {
	b := refusetest.StartRefusingAll(t)
	sink := &flakySink{}
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	l, err := New(sink, Options{Broker: b.URL(), ClientID: "api-refused", Username: refusetest.User, Password: refusetest.Password,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg, LogEvery: time.Hour,
		SubscribeRetryMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { l.Run(ctx) })

	refusals := func() float64 {
		return testutil.ToFloat64(l.subscribeFailures.WithLabelValues(subscribeRefused))
	}
	stacktest.WaitFor(t, "three refusals", time.Minute, func() bool { return refusals() >= 3 })
	if up, why := l.State(); up || why != DownRefused {
		t.Fatalf("State = %v %q with the subscription refused, want down %q", up, why, DownRefused)
	}
	if l.Connected() {
		t.Fatal("Connected (readiness) with the subscription refused")
	}
	lines := logs.lines("refused")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") ||
		!strings.Contains(lines[0], "vagt/v1/gw/+/alarm") || !strings.Contains(lines[0], "vagt/v1/gw/+/status") {
		t.Fatalf("want one error line naming both lanes for the burst of %v refusals, got %q", refusals(), lines)
	}

	b.AllowAll() // the operator fixes the ACL; the lane's connection stays
	stacktest.WaitFor(t, "the lane up", time.Minute, func() bool { up, _ := l.State(); return up })
	if got := len(logs.lines("subscribed after")); got != 1 {
		t.Fatalf("recovery logged %d times: %q", got, logs.lines("subscribe"))
	}
	if got := len(logs.lines("connection lost")); got != 0 {
		t.Fatalf("the lane reconnected (%d): the fix must take on the same connection", got)
	}

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("gw-0042").
		SetUsername(refusetest.User).SetPassword(refusetest.Password))
	if tok := pub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(0)
	if tok := pub.Publish(vagt.Topic("gw-0042", vagt.LaneAlarm), 1, false, alarmPayload(t, "gw-0042")); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	stacktest.WaitFor(t, "the alarm committed", time.Minute, func() bool { return sink.alarms.Load() == 1 })
}
