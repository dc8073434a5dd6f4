// Command vagt-demo runs the whole platform on one machine with simulated homes (`make run`):
// an embedded MQTT broker, InfluxDB from the local stack, ingest, the API with SQLite, and a
// village of homes, each a real gateway with emulated devices. It is its own binary so that
// the production `vagt` links neither the simulator nor the embedded broker
// (TestProductionBinaryLinksNoDemo in cmd/vagt). Not for production.
package main

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/vagt-dk/vagt/cmd/internal/demo"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

func main() { subcmd.MainFunc("vagt-demo", run) }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c demo.Config
	fs := flag.NewFlagSet("vagt-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Dir, "dir", "var", "where the demo keeps its data between runs")
	fs.IntVar(&c.Homes, "homes", 20, "simulated homes (in Hedensted and Aarhus)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "the API and the console")
	fs.StringVar(&c.BrokerListen, "broker-listen", "127.0.0.1:18830", "the embedded MQTT broker (not 1883, where Debian runs its Mosquitto)")
	fs.StringVar(&c.Broker, "broker", "", "use this broker (e.g. a local Mosquitto, tcp://127.0.0.1:1883, anonymous) instead of the embedded one")
	fs.StringVar(&c.IngestListen, "ingest-listen", "127.0.0.1:8081", "ingest's health and metrics")
	fs.DurationVar(&c.Tick, "tick", 10*time.Second, "how often each home's sensors report")
	fs.DurationVar(&c.AlarmEvery, "alarm-every", 45*time.Second, "mean time between alarms in the village")
	fs.DurationVar(&c.FirstAlarm, "first-alarm", 15*time.Second, "when the first alarm comes")
	fs.DurationVar(&c.EscalateAfter, "escalate-after", time.Minute, "how long a critical or high alert may go unacknowledged before it goes to the backup on duty, then central (production: critical 60s, high 5m)")
	fs.Float64Var(&c.NightSpeed, "night-speed", 0, "run the night board's clock and the homes' day this many times faster from the next 22:55 Danish time, so the night shift (checks at 23:00, 02:00, 05:00) passes in minutes; 0 the wall clock")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	log, err := subcmd.Logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	return demo.Run(ctx, c, log, stdout)
}
