package demo

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestBrokerRestartKeepsQueuedMessages (issue 15 defect 6): messages queued on the
// embedded broker for a persistent session — delivered and not acknowledged, or published
// while the subscriber was away — reach it after the broker restarts on the same store.
// Before the fix mochi's bolt hook stored them without their packet id, and every
// reconnect failed with "resend inflight: protocol violation: missing packet id": the api
// never subscribed again and no alarm became an alert.
func TestBrokerRestartKeepsQueuedMessages(t *testing.T) {
	store := filepath.Join(t.TempDir(), "broker.db")
	addr := freeLoopback(t)
	var logs strings.Builder
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	start := func() (*embeddedBroker, string) {
		t.Helper()
		b, err := startBroker(addr, store, log)
		if err != nil {
			t.Fatal(err)
		}
		pw, err := b.auth.add("api", roleService, "")
		if err != nil {
			t.Fatal(err)
		}
		return b, pw
	}
	b, pw := start()

	var mu sync.Mutex
	var got []string
	subscriber := func(pw string, ack bool) paho.Client {
		t.Helper()
		o := paho.NewClientOptions().AddBroker(b.url).SetClientID("api-lane").SetUsername("api").SetPassword(pw).
			SetCleanSession(false).SetAutoReconnect(false).SetAutoAckDisabled(!ack).SetOrderMatters(false).
			SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
				mu.Lock()
				got = append(got, string(m.Payload()))
				mu.Unlock()
				if ack {
					m.Ack()
				}
			})
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		return c
	}
	publish := func(pw string, msgs ...string) {
		t.Helper()
		c := paho.NewClient(paho.NewClientOptions().AddBroker(b.url).SetClientID("gw").SetUsername("api").SetPassword(pw))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		defer c.Disconnect(100)
		for _, m := range msgs {
			if tok := c.Publish("vagt/v1/gw/gw-1/alarm", 1, false, m); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
	}
	sub := subscriber(pw, false)
	if tok := sub.Subscribe("vagt/v1/gw/+/alarm", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	publish(pw, "delivered-1", "delivered-2") // delivered, never acknowledged: in flight
	waitUntil(t, "the first two delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	sub.Disconnect(100)
	publish(pw, "queued-3", "queued-4") // the subscriber is away: queued for its session
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, pw = start()
	defer b.Close()
	mu.Lock()
	got = nil
	mu.Unlock()
	sub = subscriber(pw, true)
	defer sub.Disconnect(100)
	waitUntil(t, "the queued messages after the restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range []string{"delivered-1", "delivered-2", "queued-3", "queued-4"} {
			if !slices.Contains(got, m) {
				return false
			}
		}
		return true
	})
	publish(pw, "new-5")
	waitUntil(t, "a new message after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return slices.Contains(got, "new-5") })
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logs.String(), "missing packet id") {
		t.Fatalf("the broker logged:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, 30*time.Second, ok)
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr())
}

// TestSecondRunRefused (issue 15 defect 6): a second demo on the same data directory stops
// at once with a message naming the first, instead of waiting for ever on the broker's
// lock; once the first is gone the directory can be used again.
func TestSecondRunRefused(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(t.Context(), Config{Dir: dir, Homes: 1}, nil, io.Discard) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is in use by another vagt-demo (pid "+strconv.Itoa(os.Getpid())+")") {
			t.Fatalf("second run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a second run on a locked directory did not refuse within 30 s")
	}
	unlock()
	again, err := lockDir(dir)
	if err != nil {
		t.Fatalf("after the first run ended: %v", err)
	}
	again()
	// The broker's store alone, locked by another broker: refused with a message, not a hang.
	store := filepath.Join(dir, "broker.db")
	b, err := startBroker(freeLoopback(t), store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := startBroker(freeLoopback(t), store, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "is locked") {
		t.Fatalf("a second broker on the same store: %v", err)
	}
}
