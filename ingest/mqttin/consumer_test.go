package mqttin

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/internal/mqttsub"
	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// A broker that refuses the lanes at the first connect: New fails as it does when the
// broker does not answer, naming the topics, and ingest does not run storing nothing.
func TestNewFailsWhenRefused(t *testing.T) {
	b := refusetest.Start(t, "vagt/v1/gw/+/telemetry")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := New(ctx, Config{Broker: b.URL(), ClientID: "ingest-a", Username: refusetest.User, Password: refusetest.Password}, func(Delivery) {})
	if c != nil {
		c.Close()
	}
	if !errors.Is(err, mqttsub.ErrRefused) || !strings.Contains(err.Error(), "vagt/v1/gw/+/telemetry") || strings.Contains(err.Error(), "alarm") {
		t.Fatalf("New = %v, want a refusal naming the telemetry lane only", err)
	}
}

// A broker that refuses the lanes at a later connect (its ACL changed, a consumer limit
// reached): the consumer is not ready, logs an error, and subscribes on the same
// connection once the broker grants it.
func TestRefusedAfterReconnect(t *testing.T) {
	b := refusetest.Start(t)
	var logs stacktest.LogBuffer
	c, err := New(t.Context(), Config{Broker: b.URL(), ClientID: "ingest-a", Username: refusetest.User, Password: refusetest.Password,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), SubscribeRetryMax: 100 * time.Millisecond}, func(Delivery) {})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Connected() {
		t.Fatal("not ready once subscribed")
	}
	b.RefuseAll()
	if err := b.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the refusal logged", time.Minute, func() bool { return strings.Count(logs.String(), "level=ERROR") > 0 })
	stacktest.WaitFor(t, "refused again", time.Minute, func() bool { return c.subscribeFailures.Load() >= 3 })
	if c.Connected() {
		t.Fatal("ready with the subscription refused")
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Fatalf("%d error lines for one burst of refusals", n)
	}
	reconnects := strings.Count(logs.String(), "connection lost")
	b.AllowAll()
	stacktest.WaitFor(t, "ready again", time.Minute, c.Connected)
	if strings.Count(logs.String(), "connection lost") != reconnects {
		t.Fatal("reconnected: the fix must take on the same connection")
	}
}
