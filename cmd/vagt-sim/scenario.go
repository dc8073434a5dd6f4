package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/firmware-sim/scenario"
	"github.com/vagt-dk/vagt/firmware-sim/zigbee2mqtt"
)

func init() {
	commands["scenario"] = subcmd.Command{Summary: "play a scripted scenario (panic, fall-at-night, door-at-night, ...)", Run: runScenario}
}

func runScenario(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt-sim scenario", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, s := range scenario.All {
		names = append(names, s.Name)
	}
	name := fs.String("name", "panic", "scenario: "+strings.Join(names, ", "))
	link := fs.String("link", envOr(getenv, "VAGT_LINK", "/tmp/vagt-sim-tty"), "serial path for the gateway [VAGT_LINK]")
	unitID := fs.String("unit", envOr(getenv, "VAGT_UNIT", "bu-17"), "base unit id [VAGT_UNIT]")
	broker := fs.String("broker", getenv("VAGT_BROKER"), "home broker for Zigbee2MQTT devices; empty: none [VAGT_BROKER]")
	scale := fs.Float64("scale", 1, "multiply every wait (0.01 plays a 4-minute scenario in 2.4 s)")
	hold := fs.Duration("hold", 5*time.Second, "keep the line up this long after the last step")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	sc, ok := scenario.Find(*name)
	if !ok {
		return fmt.Errorf("no scenario %q; have %s", *name, strings.Join(names, ", "))
	}
	line, err := baseunit.NewLine(*link)
	if err != nil {
		return err
	}
	defer line.Unplug()
	unit := baseunit.New(*unitID)
	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel() // before wg.Wait: the unit's Run ends with it
	serve := func(end io.ReadWriteCloser) { unit.Attach(end); wg.Go(func() { unit.Run(runCtx, end) }) }
	serve(line.End())
	env := &scenario.Env{Unit: unit, Line: line, Out: stdout, Serve: serve, Scale: *scale}
	if *broker != "" {
		if env.Zigbee, err = zigbee2mqtt.Connect(*broker, ""); err != nil {
			return err
		}
		defer env.Zigbee.Close()
	}
	fmt.Fprintf(stdout, "scenario %s: %s\nbase unit %s; the gateway's serial path: %s\n", sc.Name, sc.About, *unitID, *link)
	if err := sc.Run(ctx, env); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(*hold):
	}
	return nil
}
