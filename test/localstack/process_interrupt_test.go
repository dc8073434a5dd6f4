package localstack

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartInterruptedPrintsNoLog: a start cancelled by the caller (Ctrl-C during make
// run) is reported as interrupted without the program's log; a start that runs out of time
// is a failure and carries the log tail.
func TestStartInterruptedPrintsNoLog(t *testing.T) {
	dir := t.TempDir()
	p := &process{name: "sleeper", logPath: filepath.Join(dir, "log"), dir: dir,
		stopSignal: syscall.SIGTERM, stopTimeout: 5 * time.Second, logger: nopLogger(nil)}
	notReady := func(context.Context) error { return errors.New("not yet") }
	for _, c := range []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		wantLog  bool
		wantKind error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, false, context.Canceled},
		{"timed out", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, true, context.DeadlineExceeded},
	} {
		if err := p.start("/bin/sh", "-c", "echo the-sleepers-log-line; exec sleep 60"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := c.ctx()
		err := p.waitReady(ctx, notReady)
		cancel()
		if killErr := p.kill(); killErr != nil {
			t.Fatal(killErr)
		}
		if !errors.Is(err, c.wantKind) {
			t.Errorf("%s: %v, want %v", c.name, err, c.wantKind)
		}
		if got := err != nil && strings.Contains(err.Error(), "the-sleepers-log-line"); got != c.wantLog {
			t.Errorf("%s: error %q carries the log: %v, want %v", c.name, err, got, c.wantLog)
		}
	}
}
