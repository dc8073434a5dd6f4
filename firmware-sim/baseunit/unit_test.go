package baseunit

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEncodeMatchesTheDocument re-encodes every good frame of testdata/serial/frames.txt
// from its fields: this encoder and the gateway's parser were written apart.
func TestEncodeMatchesTheDocument(t *testing.T) {
	data, err := os.ReadFile("../../testdata/serial/frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		frame, ok := strings.CutPrefix(line, "ok ")
		if !ok {
			continue
		}
		frame, _, _ = strings.Cut(frame, " ")
		body := strings.TrimPrefix(frame[:strings.IndexByte(frame, '*')], "$")
		if got := string(Encode(strings.Split(body, ",")...)); got != frame+"\r\n" {
			t.Errorf("encoded %q, document says %q", got, frame)
		}
		n++
	}
	if n < 8 || CRC([]byte("123456789")) != 0x29B1 {
		t.Fatalf("%d frames; check value %04X", n, CRC([]byte("123456789")))
	}
}

// TestAlarmRepeatedUntilAcked runs the unit on a real pty: the gateway's end sees the
// alarm frame, sees it again (repeat), acks it, and the repeats stop.
func TestAlarmRepeatedUntilAcked(t *testing.T) {
	l, err := NewLine(filepath.Join(t.TempDir(), "tty"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unplug()
	gw, err := os.OpenFile(l.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	u := New("bu-17")
	u.RepeatEvery = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	u.Attach(l.End())
	go func() { done <- u.Run(ctx, l.End()) }()
	defer func() { cancel(); <-done }()
	if err := u.Reading("pir-2", "motion", 1); err != nil {
		t.Fatal(err)
	}
	seq, err := u.Alarm("btn", "panic")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(gw)
	var lines []string
	for len(lines) < 3 {
		s, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	if lines[0] != string(Encode("bu-17", "1", "R", "pir-2", "motion", "1")) || lines[1] != lines[2] || !strings.Contains(lines[1], ",A,btn,panic*") {
		t.Fatalf("line: %q", lines)
	}
	gw.Write(Encode("bu-17", "2", "K"))
	deadline := time.After(time.Minute)
	for !u.Acked(seq) {
		select {
		case <-u.AckSignal():
		case <-deadline:
			t.Fatal("ack not seen")
		}
	}
	if len(u.Pending()) != 0 {
		t.Fatalf("pending after ack: %v", u.Pending())
	}
}
