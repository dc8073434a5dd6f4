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
	// Nudge until the pty is full and a heartbeat write stays blocked (nobody reads the
	// line; a pty holds a few kB to tens of kB), then go on nudging a while: every nudge
	// must come back. A fixed number of nudges did not always fill the line on a loaded
	// machine (nudge skips while a write is in flight), and then the test showed nothing.
	stop, polls := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				polls <- n
				return
			default:
			}
			w.nudge()
			n++
		}
	}()
	deadline := time.Now().Add(time.Minute)
	var blockedSince time.Time
	for time.Now().Before(deadline) {
		if !w.nudging.Load() {
			blockedSince = time.Time{}
		} else if blockedSince.IsZero() {
			blockedSince = time.Now()
		} else if time.Since(blockedSince) > time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	select {
	case n := <-polls:
		if blockedSince.IsZero() || time.Since(blockedSince) <= time.Second {
			t.Fatalf("no heartbeat write stayed blocked in a minute of %d nudges: the line took every frame, so this test shows nothing", n)
		}
		t.Logf("%d nudges returned, a heartbeat write blocked on the full line for over a second", n)
	case <-time.After(time.Minute):
		t.Fatal("nudges on an unread line did not return within a minute: a wait that nudges would hang")
	}
}
