package baseunit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnitShowsWhatTheGatewayTells writes the frames of testdata/serial/downlink-frames.txt
// (made by the gateway's encoder; this parser was written from docs/serial.md) to the unit
// on a real pty, with a corrupted copy and a step back in between: the unit takes each
// good frame, ignores the bad one, never steps back, and its display follows.
func TestUnitShowsWhatTheGatewayTells(t *testing.T) {
	data, err := os.ReadFile("../../testdata/serial/downlink-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	frames := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "$") {
			continue
		}
		f, _, _ := strings.Cut(line, " ")
		body, _, _ := strings.Cut(f[1:], "*")
		parts := strings.Split(body, ",")
		frames[parts[2]+" "+parts[3]] = f + "\r\n"
	}
	if len(frames) != 7 {
		t.Fatalf("%d frames in the file", len(frames))
	}
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx, l.End()) }()
	defer func() { cancel(); <-done }()

	write := func(s string) {
		t.Helper()
		if _, err := gw.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	news := func(want string) {
		t.Helper()
		select {
		case n := <-u.HelpNews():
			if n.State != want || n.Seq != 5 || n.Event != 1001 {
				t.Fatalf("news %+v, want %s for frame 5, event 1001", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not taken", want)
		}
	}
	// A flipped bit: the CRC fails, the unit takes nothing from it.
	write(strings.Replace(frames["S acknowledged"], "acknowledged", "acknowledgee", 1))
	write(frames["S received"])
	news("received")
	if got := u.Display(); got != "Alarmen er modtaget" {
		t.Fatalf("display %q", got)
	}
	write(frames["S acknowledged"])
	news("acknowledged")
	write(frames["S received"]) // older news, late: no step back
	write(frames["S on_the_way"])
	news("on_the_way")
	if st, ev, ok := u.Help(5); !ok || st != "on_the_way" || ev != 1001 || u.Display() != "Hjælpen er på vej" {
		t.Fatalf("help %q %d %v, display %q", st, ev, ok, u.Display())
	}
	write(frames["L down"])
	write(frames["S arrived"])
	news("arrived")
	if down, d := u.LinkDown(); !down || d != 125*time.Second || !strings.Contains(u.Display(), "telefon") {
		t.Fatalf("link down %v %s, display %q", down, d, u.Display())
	}
	write(frames["L up"])
	write(frames["S resolved"])
	news("resolved")
	if down, _ := u.LinkDown(); down {
		t.Fatal("link still down after L up")
	}
	// The acknowledgement path still works beside the new frames.
	write(string(Encode("bu-17", "9", "K")))
	select {
	case <-u.AckSignal():
	case <-time.After(10 * time.Second):
		t.Fatal("K not taken")
	}
}
