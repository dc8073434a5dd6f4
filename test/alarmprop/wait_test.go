package alarmprop

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
)

// TestNudgeDoesNotBlockOnAnUnreadLine: the startup wait nudges the unit (a heartbeat on its
// pty) on every poll. With no gateway reading the line (it could not start, or was killed),
// the pty fills and a plain write blocks, so a wait that wrote inline never came back to its
// deadline (make test's 18-minute limit hung on it). nudge never waits for the write.
func TestNudgeDoesNotBlockOnAnUnreadLine(t *testing.T) {
	line, err := baseunit.NewLine(filepath.Join(t.TempDir(), "tty"))
	if err != nil {
		t.Fatal(err)
	}
	unit := baseunit.New(unitID)
	unit.RepeatEvery = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	unit.Attach(line.End())
	go func() { defer close(done); _ = unit.Run(ctx, line.End()) }()
	t.Cleanup(func() { cancel(); line.Unplug(); <-done })

	w := &world{unit: unit, line: line}
	// Far more heartbeats than a pty holds (a few kB to tens of kB): nobody reads the line.
	const n = 20000
	polls := make(chan struct{})
	go func() {
		defer close(polls)
		for range n {
			w.nudge()
		}
	}()
	select {
	case <-polls:
	case <-time.After(time.Minute):
		t.Fatalf("%d nudges on an unread line did not return within a minute: a wait that nudges would hang", n)
	}
	// The premise: the pty is full, so a heartbeat write is still blocked.
	if !w.nudging.Load() {
		t.Fatal("no heartbeat write blocked: the line took every frame, so this test shows nothing")
	}
}
