package alerts

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
)

// failingStore does not answer its first down calls (a database outage), then does.
type failingStore struct {
	down  int64
	calls atomic.Int64
}

func (s *failingStore) EscalateDue(context.Context, time.Time) (int, error) {
	if s.calls.Add(1) <= s.down {
		return 0, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return 0, nil
}

func (s *failingStore) DetectOffline(ctx context.Context, now time.Time) (int, error) {
	return s.EscalateDue(ctx, now)
}

// syncBuffer is a log the loop writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestLoopLogsAnOutageOnce: the escalation and offline loops, which look every second,
// log a store that does not answer once when it goes and once when it is back (with how
// many looks failed), not at every look through the outage.
func TestLoopLogsAnOutageOnce(t *testing.T) {
	for name, run := range map[string]func(context.Context, *failingStore, *slog.Logger) error{
		"escalate": func(ctx context.Context, s *failingStore, log *slog.Logger) error {
			return (&Escalator{Store: s, Clock: api.SystemClock{}, Every: time.Millisecond, Logger: log}).Run(ctx)
		},
		"offline": func(ctx context.Context, s *failingStore, log *slog.Logger) error {
			return (&OfflineDetector{Store: s, Clock: api.SystemClock{}, Every: time.Millisecond, Logger: log}).Run(ctx)
		},
	} {
		t.Run(name, func(t *testing.T) {
			var out syncBuffer
			store := &failingStore{down: 30}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx, store, slog.New(slog.NewTextHandler(&out, nil))) }()
			for deadline := time.Now().Add(time.Minute); store.calls.Load() < 40; {
				if time.Now().After(deadline) {
					t.Fatalf("the loop looked %d times in a minute", store.calls.Load())
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			log := out.String()
			if n := strings.Count(log, "level=WARN"); n != 1 {
				t.Errorf("30 failed looks logged %d warnings, want 1:\n%s", n, log)
			}
			if !strings.Contains(log, "failed_runs=30") || !strings.Contains(log, "loop="+name) {
				t.Errorf("no recovery line with the count and the loop:\n%s", log)
			}
		})
	}
}
