package gps

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// A broker refusing the OwnTracks topics (SUBACK 0x80): the consumer is not ready, logs
// an error naming the topics, and subscribes once the broker grants it, on the same
// connection.
func TestOwnTracksRefusedSubscription(t *testing.T) {
	b := refusetest.StartRefusingAll(t)
	var logs stacktest.LogBuffer
	svc := NewService(&fakeStore{}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := NewOwnTracksConsumer(svc, MQTTOptions{Broker: b.URL(), ClientID: "api-gps", Username: refusetest.User, Password: refusetest.Password})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { c.Run(ctx) })

	stacktest.WaitFor(t, "the refusal logged", time.Minute, func() bool { return strings.Contains(logs.String(), "level=ERROR") })
	if c.Connected() {
		t.Fatal("ready with the subscription refused")
	}
	if s := logs.String(); !strings.Contains(s, "owntracks/+/+") || !strings.Contains(s, "owntracks/+/+/event") {
		t.Fatalf("the error does not name the topics: %s", s)
	}
	b.AllowAll()
	stacktest.WaitFor(t, "subscribed", 2*time.Minute, c.Connected)
	if strings.Contains(logs.String(), "connection lost") {
		t.Fatal("reconnected: the fix must take on the same connection")
	}
}
