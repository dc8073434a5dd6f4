package gateway

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/creack/pty"
	"github.com/vagt-dk/vagt/gateway/serial"
)

// unit is the base unit's end of a pseudo-terminal the gateway reads as its serial port.
type unit struct {
	ptmx *os.File
	mu   sync.Mutex
	got  []byte // everything the gateway wrote to the unit
}

func plugUnit(t *testing.T) (*unit, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "ttyUSB0")
	if err := os.Symlink(tty.Name(), link); err != nil {
		t.Fatal(err)
	}
	// Kept open (unread) so that the master's reads do not fail with EIO before the
	// gateway opens the port by name.
	t.Cleanup(func() { tty.Close() })
	u := &unit{ptmx: ptmx}
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := ptmx.Read(buf)
			u.mu.Lock()
			u.got = append(u.got, buf[:n]...)
			u.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ptmx.Close() })
	return u, link
}

func (u *unit) send(t *testing.T, body string) {
	t.Helper()
	if _, err := fmt.Fprintf(u.ptmx, "$%s*%04X\r\n", body, serial.CRC16([]byte(body))); err != nil {
		t.Fatal(err)
	}
}

func (u *unit) heard(frame []byte) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	// The frame without its line end: a tty's output processing may turn \n into \r\n.
	return bytes.Contains(u.got, bytes.TrimRight(frame, "\r\n"))
}

// TestAckOnlyAfterCommit (issue 15, defect 1): over a real pseudo-terminal, an A frame is
// acknowledged with K once its alarm is in the spool; when the spool cannot commit, the
// frame is not acknowledged (so the unit keeps repeating it) and that is counted. Before
// the fix the K was written whatever became of the alarm.
func TestAckOnlyAfterCommit(t *testing.T) {
	u, link := plugUnit(t)
	cfg := testConfig(t, "tcp://127.0.0.1:1") // no uplink: an alarm stays in the spool
	cfg.StatusAddr, cfg.Zigbee.Broker, cfg.Serial.Path = "", "", link
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "the serial port open", func() bool { return g.serial.Stats().Reopens > 0 })
	u.send(t, "bu-1,7,A,btn,panic")
	waitFor(t, "K for frame 7", func() bool { return u.heard(serial.AckFrame("bu-1", 7)) })
	if n := g.spool.Stats().Alarms; n != 1 {
		t.Fatalf("K heard with %d alarms in the spool, want 1", n)
	}

	// The disk goes away: the next alarm cannot be committed.
	if err := g.spool.Close(); err != nil {
		t.Fatal(err)
	}
	u.send(t, "bu-1,8,A,btn,fall")
	waitFor(t, "frame 8 refused", func() bool { return g.Snapshot().Counters.AlarmFramesNotAcked == 1 })
	if acks := g.serial.Stats().Acks; acks != 1 || u.heard(serial.AckFrame("bu-1", 8)) {
		t.Fatalf("%d acks written (want 1), K for frame 8 heard: %v", acks, u.heard(serial.AckFrame("bu-1", 8)))
	}
	if c := g.Snapshot().Counters; c.AlarmFrames != 1 {
		t.Fatalf("counters %+v: want 1 alarm frame acked", c)
	}
}
