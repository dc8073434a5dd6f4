package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
)

func init() {
	commands["serial"] = subcmd.Command{Summary: "a base unit on a pseudo-terminal, reporting its sensors", Run: runSerial}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func runSerial(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt-sim serial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	link := fs.String("link", envOr(getenv, "VAGT_LINK", "/tmp/vagt-sim-tty"), "path the gateway opens (a symlink to the pty) [VAGT_LINK]")
	unitID := fs.String("unit", envOr(getenv, "VAGT_UNIT", "bu-17"), "base unit id [VAGT_UNIT]")
	every := fs.Duration("every", 10*time.Second, "each sensor reports this often")
	sensors := fs.Int("sensors", 3, "motion and temperature sensors on the unit")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	line, err := baseunit.NewLine(*link)
	if err != nil {
		return err
	}
	defer line.Unplug()
	unit := baseunit.New(*unitID)
	fmt.Fprintf(stdout, "base unit %s on %s; the gateway's serial path: %s\n", *unitID, line.Device(), *link)
	var wg sync.WaitGroup
	defer wg.Wait()
	unit.Attach(line.End())
	wg.Go(func() { unit.Run(ctx, line.End()) })
	wg.Go(func() { showDisplay(ctx, unit, stdout) })
	return reportLoop(ctx, unit, *sensors, *every)
}

// showDisplay prints what the unit's screen says whenever it changes: the help news and
// the platform link the gateway tells it (docs/serial.md, S and L frames).
func showDisplay(ctx context.Context, unit *baseunit.Unit, stdout io.Writer) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	shown := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if d := unit.Display(); d != shown {
			shown = d
			fmt.Fprintf(stdout, "%s display: %q\n", time.Now().Format("15:04:05"), d)
		}
	}
}

// reportLoop makes the unit's sensors report until ctx is done. Once ctx is done, Run
// closes the line; a write that meets the closed line then is the shutdown, not a failure.
func reportLoop(ctx context.Context, unit *baseunit.Unit, sensors int, every time.Duration) error {
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	failed := func(err error) bool { return err != nil && ctx.Err() == nil }
	for n := 0; ctx.Err() == nil; n++ {
		for i := range sensors {
			if err := unit.Reading(fmt.Sprintf("pir-%d", i+1), "motion", float64((n+i)%2)); failed(err) {
				return err
			}
			if err := unit.Reading(fmt.Sprintf("temp-%d", i+1), "temperature", 20+float64((n+i)%30)/10); failed(err) {
				return err
			}
		}
		if n%6 == 0 {
			if err := unit.Heartbeat(time.Since(start), true, 98); failed(err) {
				return err
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	return nil
}
