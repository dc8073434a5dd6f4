package scenario

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
)

// gatewayEnd plays a minimal gateway on the line: it acks every alarm frame it reads.
func gatewayEnd(t *testing.T, path string, frames chan<- string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(f)
		for {
			s, err := r.ReadString('\n')
			if err != nil {
				return
			}
			frames <- s
			if parts := strings.Split(strings.TrimPrefix(s[:strings.IndexByte(s, '*')], "$"), ","); len(parts) > 2 && parts[2] == "A" {
				f.Write(baseunit.Encode(parts[0], parts[1], "K"))
			}
		}
	}()
	return func() { f.Close(); <-done }
}

func TestUnpluggedCableDeliversThePanicAfterwards(t *testing.T) {
	line, err := baseunit.NewLine(filepath.Join(t.TempDir(), "tty"))
	if err != nil {
		t.Fatal(err)
	}
	defer line.Unplug()
	frames := make(chan string, 100)
	stop := gatewayEnd(t, line.Path, frames)
	unit := baseunit.New("bu-17")
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	serve := func(end io.ReadWriteCloser) { unit.Attach(end); wg.Go(func() { unit.Run(ctx, end) }) }
	serve(line.End())
	env := &Env{Unit: unit, Line: line, Scale: 0.001, Serve: func(end io.ReadWriteCloser) {
		stop() // the old gateway end is dead; open the new device
		stops = append(stops, gatewayEnd(t, line.Path, frames))
		serve(end)
	}}
	sc, _ := Find("unplugged-cable")
	if err := sc.Run(ctx, env); err != nil {
		t.Fatal(err)
	}
	if p := unit.Pending(); len(p) != 0 {
		t.Fatalf("pending %v", p)
	}
	got := <-frames
	if !strings.Contains(got, ",A,btn,panic*") {
		t.Fatalf("first frame after the replug: %q", got)
	}
}

func TestEveryScenarioHasSteps(t *testing.T) {
	for _, s := range All {
		if len(s.Steps) == 0 || s.About == "" {
			t.Errorf("%s: empty", s.Name)
		}
	}
	if _, ok := Find("door-at-night"); !ok {
		t.Error("door-at-night missing")
	}
}
