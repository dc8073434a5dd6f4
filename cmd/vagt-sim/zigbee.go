package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
	"github.com/vagt-dk/vagt/firmware-sim/zigbee2mqtt"
)

func init() {
	commands["zigbee"] = subcmd.Command{Summary: "Zigbee2MQTT devices publishing on a home broker", Run: runZigbee}
}

func runZigbee(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt-sim zigbee", flag.ContinueOnError)
	fs.SetOutput(stderr)
	broker := fs.String("broker", envOr(getenv, "VAGT_BROKER", "tcp://127.0.0.1:1883"), "the home's broker [VAGT_BROKER]")
	base := fs.String("base", "zigbee2mqtt", "Zigbee2MQTT base topic")
	devices := fs.Int("devices", 5, "climate/motion sensors sensor-1 .. sensor-N")
	every := fs.Duration("every", 10*time.Second, "each device reports this often")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	b, err := zigbee2mqtt.Connect(*broker, *base)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "%d Zigbee2MQTT devices on %s under %s/\n", *devices, *broker, *base)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for n := 0; ; n++ {
		for i := range *devices {
			name := fmt.Sprintf("sensor-%d", i+1)
			if err := b.Availability(name, true, false); n == 0 && err != nil {
				return err
			}
			if err := b.Climate(name, 20+float64((n+i)%40)/10, 40+float64((n+i)%20)); err != nil {
				return err
			}
			if err := b.Motion(name, (n+i)%3 == 0, 100+i); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
