package serial

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// plug makes a pseudo-terminal and points link at its device end, the way a USB serial
// adapter appears at a stable path; it returns the unit's end.
func plug(t *testing.T, link string) *os.File {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	name := tty.Name()
	tty.Close() // the reader opens it by name
	os.Remove(link)
	if err := os.Symlink(name, link); err != nil {
		t.Fatal(err)
	}
	return ptmx
}

func frame(body string) []byte {
	return fmt.Appendf(nil, "$%s*%04X\r\n", body, CRC16([]byte(body)))
}

type sink struct {
	mu     sync.Mutex
	frames []Frame
	more   chan struct{}
}

func (s *sink) add(f Frame) {
	s.mu.Lock()
	s.frames = append(s.frames, f)
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
}

func (s *sink) waitN(t *testing.T, n int) []Frame {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		s.mu.Lock()
		got := append([]Frame(nil), s.frames...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-s.more:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited a minute for %d frames, have %d", n, len(got))
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, time.Minute, cond)
}

// TestReaderOnPTYSurvivesUnplug reads frames from a real pseudo-terminal, acks an alarm
// frame, ignores the unit's repeat of it, and carries on after the device vanished and
// came back at the same path.
func TestReaderOnPTYSurvivesUnplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyVAGT")
	unit := plug(t, link)
	r := NewReader(Options{Path: link, ReadTimeout: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	got := &sink{more: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, func(f Frame) {
			got.add(f)
			if f.Type == TypeAlarm {
				if err := r.Ack(f); err != nil {
					t.Errorf("ack: %v", err)
				}
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "the port to open", func() bool { return r.Stats().Reopens == 1 })

	// Noise, a good reading, a torn frame, a panic.
	unit.Write([]byte("\x00\xff garbage"))
	unit.Write(frame("bu-17,1,R,pir-2,motion,1"))
	unit.Write(frame("bu-17,2,R,pir-2,motion,0")[:10])
	unit.Write(frame("bu-17,3,A,btn,panic"))
	frames := got.waitN(t, 2)
	if frames[0].Seq != 1 || frames[1].Type != TypeAlarm || frames[1].Seq != 3 {
		t.Fatalf("frames %+v", frames)
	}
	ack, err := bufio.NewReader(unit).ReadString('\n')
	if err != nil || ack != string(AckFrame("bu-17", 3)) {
		t.Fatalf("ack %q, %v", ack, err)
	}
	unit.Write(frame("bu-17,3,A,btn,panic")) // the unit repeats it: no second alarm
	unit.Write(frame("bu-17,4,R,pir-2,motion,1"))
	frames = got.waitN(t, 3)
	if frames[2].Seq != 4 || r.Stats().Duplicates != 1 {
		t.Fatalf("after the repeat: %+v, stats %+v", frames, r.Stats())
	}

	// Unplug: the device end goes away and the path with it.
	unit.Close()
	os.Remove(link)
	waitFor(t, "the reader to notice", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.port == nil })
	unit = plug(t, link)
	defer unit.Close()
	waitFor(t, "the port to reopen", func() bool { return r.Stats().Reopens == 2 })
	unit.Write(frame("bu-17,5,R,door-1,door_open,1"))
	frames = got.waitN(t, 4)
	if frames[3].Seq != 5 {
		t.Fatalf("after replug: %+v", frames[3])
	}
	st := r.Stats()
	if st.Rejected["torn"] != 1 || st.Rejected["noise"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}
