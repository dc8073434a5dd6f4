// Command vagt-gateway is the home agent: it reads the base unit's serial line and the
// home's Zigbee2MQTT devices, runs the edge rules, spools everything and sends it to the
// platform broker. Configuration: a JSON file (deploy/gateway/gateway.json), then VAGT_*
// environment variables, then flags, each overriding the one before.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	_ "time/tzdata" // the rule windows need Europe/Copenhagen on boxes without zoneinfo

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
	"github.com/vagt-dk/vagt/gateway"
)

func main() {
	subcmd.MainFunc("vagt-gateway", func(ctx context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
		return run(ctx, args, getenv, stdout)
	})
}

// setting is one key that the environment and a flag can set.
type setting struct {
	flag, env, usage string
	apply            func(*gateway.Config, string) error
}

var settings = []setting{
	{"gateway", "VAGT_GATEWAY", "gateway id", func(c *gateway.Config, v string) error { c.Gateway = vagt.GatewayID(v); return nil }},
	{"municipality", "VAGT_MUNICIPALITY", "municipality code", func(c *gateway.Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 16)
		c.Municipality = vagt.MunicipalityCode(n)
		return err
	}},
	{"spool", "VAGT_SPOOL", "spool file", func(c *gateway.Config, v string) error { c.Spool.Path = v; return nil }},
	{"uplink", "VAGT_UPLINK", "platform broker URL (tcp:// or ssl://)", func(c *gateway.Config, v string) error { c.Uplink.Broker = v; return nil }},
	{"uplink-username", "VAGT_UPLINK_USERNAME", "platform broker user (default the gateway id)", func(c *gateway.Config, v string) error { c.Uplink.Username = v; return nil }},
	{"uplink-password", "VAGT_UPLINK_PASSWORD", "platform broker password (prefer the environment)", func(c *gateway.Config, v string) error { c.Uplink.Password = v; return nil }},
	{"uplink-secondary", "VAGT_UPLINK_SECONDARY", "second platform broker URL (empty: none; see docs/gateway.md)", func(c *gateway.Config, v string) error { c.Uplink.Secondary.Broker = v; return nil }},
	{"uplink-secondary-password", "VAGT_UPLINK_SECONDARY_PASSWORD", "second platform broker password (prefer the environment)", func(c *gateway.Config, v string) error { c.Uplink.Secondary.Password = v; return nil }},
	{"ca-file", "VAGT_CA_FILE", "CA certificate (PEM) of the platform broker", func(c *gateway.Config, v string) error { c.Uplink.CAFile = v; return nil }},
	{"cert-file", "VAGT_CERT_FILE", "client certificate (PEM)", func(c *gateway.Config, v string) error { c.Uplink.CertFile = v; return nil }},
	{"key-file", "VAGT_KEY_FILE", "client key (PEM)", func(c *gateway.Config, v string) error { c.Uplink.KeyFile = v; return nil }},
	{"keep-alive", "VAGT_KEEP_ALIVE", "MQTT keep-alive (the will fires after 1.5×)", func(c *gateway.Config, v string) error { return c.Uplink.KeepAlive.Set(v) }},
	{"heartbeat", "VAGT_HEARTBEAT", "status heartbeat interval", func(c *gateway.Config, v string) error { return c.Uplink.Heartbeat.Set(v) }},
	{"lane-qos", "VAGT_LANE_QOS", "QoS of the config and downlink subscriptions, 0 or 1 (0: nothing queued while away, the api retells; see docs/gateway.md)", func(c *gateway.Config, v string) error {
		n, err := strconv.Atoi(v)
		c.Uplink.LaneQoS = n
		return err
	}},
	{"batch-age", "VAGT_BATCH_AGE", "cut a batch when its oldest reading is this old", func(c *gateway.Config, v string) error { return c.Spool.BatchAge.Set(v) }},
	{"batch-readings", "VAGT_BATCH_READINGS", "cut a batch at this many readings", func(c *gateway.Config, v string) error {
		n, err := strconv.Atoi(v)
		c.Spool.BatchReadings = n
		return err
	}},
	{"serial", "VAGT_SERIAL", "base unit serial port (empty: none)", func(c *gateway.Config, v string) error { c.Serial.Path = v; return nil }},
	{"zigbee", "VAGT_ZIGBEE", "home broker of Zigbee2MQTT (empty: none)", func(c *gateway.Config, v string) error { c.Zigbee.Broker = v; return nil }},
	{"status-addr", "VAGT_STATUS_ADDR", "loopback address of the status page", func(c *gateway.Config, v string) error { c.StatusAddr = v; return nil }},
}

// run builds the configuration and runs the gateway until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("vagt-gateway", flag.ContinueOnError)
	configFile := fs.String("config", getenv("VAGT_CONFIG"), "configuration file (JSON; see deploy/gateway/gateway.json) [VAGT_CONFIG]")
	logLevel := fs.String("log-level", or(getenv("VAGT_LOG_LEVEL"), "info"), "debug, info, warn or error [VAGT_LOG_LEVEL]")
	printConfig := fs.Bool("print-config", false, "print the resulting configuration and exit")
	flagVals := make([]*string, len(settings))
	for i, s := range settings {
		flagVals[i] = fs.String(s.flag, "", s.usage+" ["+s.env+"]")
	}
	// As the Go tools: -h prints the flags to stdout and exits 0; a bad flag or a stray
	// argument is one line and a hint.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: vagt-gateway [flags]\n\nflags:\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return subcmd.Usagef("%w (run 'vagt-gateway -h' for its flags)", err)
	}
	if fs.NArg() > 0 {
		return subcmd.Usagef("unexpected argument %q (run 'vagt-gateway -h' for its flags)", fs.Arg(0))
	}
	cfg := gateway.Defaults()
	if *configFile != "" {
		data, err := os.ReadFile(*configFile)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if cfg, err = gateway.ParseConfig(data); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i, s := range settings {
		v, from := getenv(s.env), s.env
		if set[s.flag] {
			v, from = *flagVals[i], "-"+s.flag
		}
		if v == "" && !set[s.flag] {
			continue
		}
		if err := s.apply(&cfg, v); err != nil {
			return fmt.Errorf("%s: %w", from, err)
		}
	}
	if *printConfig {
		cfg.Uplink.Password = "(hidden)"
		if cfg.Uplink.Secondary.Password != "" {
			cfg.Uplink.Secondary.Password = "(hidden)"
		}
		fmt.Fprintf(stdout, "%+v\n", cfg)
		return nil
	}
	level, err := subcmd.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level}))
	var clock gateway.Clock // nil: the wall clock
	if path := getenv(testClockEnv); path != "" {
		clock = newFileClock(path)
		log.Warn("TEST ONLY: the clock follows a file", "env", testClockEnv, "file", path)
	}
	g, err := gateway.New(cfg, gateway.Deps{Logger: log, Clock: clock})
	if err != nil {
		return err
	}
	return g.Run(ctx)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
