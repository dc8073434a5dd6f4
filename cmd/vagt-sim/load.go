package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
	"github.com/vagt-dk/vagt/firmware-sim/load"
)

func init() {
	commands["load"] = subcmd.Command{
		Summary: "play N gateways publishing telemetry batches and alarms; report what the broker acknowledged",
		Run:     runLoad,
	}
}

func runLoad(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg load.Config
	fs := flag.NewFlagSet("vagt-sim load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Broker, "broker", "tcp://127.0.0.1:1883", "platform broker URL")
	fs.StringVar(&cfg.Username, "username", "", "MQTT user name")
	fs.StringVar(&cfg.Password, "password", "", "MQTT password")
	fs.IntVar(&cfg.Homes, "homes", 100, "gateways to play")
	fs.IntVar(&cfg.Sensors, "sensors", 10, "sensors per home")
	fs.IntVar(&cfg.Samples, "samples", 1, "readings per sensor per batch")
	fs.DurationVar(&cfg.Interval, "interval", time.Second, "each gateway sends a batch this often; 0: as fast as the broker takes them")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to play; 0: until --batches")
	fs.IntVar(&cfg.Batches, "batches", 0, "batches per gateway; 0: no limit")
	fs.IntVar(&cfg.AlarmEvery, "alarm-every", 100, "one alarm per this many batches of a gateway; 0: none")
	fs.IntVar(&cfg.Conns, "conns", 4, "MQTT connections that carry the gateways")
	fs.StringVar(&cfg.Prefix, "prefix", "load", "gateway ids are {prefix}-000001, ...")
	fs.IntVar(&cfg.Trackers, "trackers", 0, "GPS trackers to play as the OwnTracks app (ids gps.{prefix}-000001, each its own login; docs/gps.md)")
	fs.StringVar(&cfg.TrackerPassword, "tracker-password", "", "the trackers' broker password")
	fs.Float64Var(&cfg.TrackerWalk, "tracker-walk", 500, "metres each tracker walks out from its home and back (crossing any smaller safe zone's edge)")
	report := fs.String("report", "", "write the full JSON report (per gateway) to this file; '-' for stdout")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil)).With("component", "load")
	r, runErr := load.Run(ctx, cfg)
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(stdout, "sent: gateways=%d batches=%d readings=%d alarms=%d failed=%d elapsed=%.2fs rate=%.0f readings/s\n",
		r.Gateways, r.Batches, r.Readings, r.Alarms, r.Failed, secs, float64(r.Readings)/max(secs, 1e-9))
	if cfg.Trackers > 0 {
		fmt.Fprintf(stdout, "trackers: %d positions=%d\n", cfg.Trackers, r.Positions)
	}
	if *report != "" {
		out, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if *report == "-" {
			_, err = fmt.Fprintf(stdout, "%s\n", out)
		} else {
			err = os.WriteFile(*report, out, 0o644)
		}
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return runErr
}
