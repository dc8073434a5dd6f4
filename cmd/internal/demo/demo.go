// Package demo runs the whole platform on one machine with simulated homes (vagt-demo,
// behind `make run`): an embedded MQTT broker, InfluxDB 1.8 from the local stack, ingest,
// the API with SQLite, and a village of homes, each a real gateway with an emulated base
// unit on a pseudo-terminal and emulated Zigbee2MQTT devices, living a daily rhythm with
// the occasional alarm. Its data stays under one directory (./var) for the next run.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/test/localstack"
)

// Config configures the demo. The zero value plus Defaults is `make run`.
type Config struct {
	Dir          string        // where everything is kept between runs; default ./var
	Homes        int           // simulated homes; default 20
	Listen       string        // the API and console; default 127.0.0.1:8080
	BrokerListen string        // the embedded broker; default 127.0.0.1:18830 (1883 is often a system Mosquitto)
	Broker       string        // an external broker (e.g. Mosquitto) instead, which lets anybody in; "" embedded
	IngestListen string        // ingest's /healthz and /metrics; default 127.0.0.1:8081
	Tick         time.Duration // how often each home's sensors report; default 10 s
	AlarmEvery   time.Duration // mean time between alarms in the village; default 45 s
	FirstAlarm   time.Duration // the first alarm, so the console has one soon; default 15 s
	// EscalateAfter is how long a critical or high alert may stay unacknowledged at one
	// tier before it goes to the next (the backup, then central); default 60 s, production's
	// figure for critical (high is 5 min there), so that an unanswered alarm of the demo
	// reaches the backup while one watches.
	EscalateAfter time.Duration
	// NightSpeed > 0 runs the night board's clock (and the homes' day) that many times
	// faster from the next 22:55 Danish time, so a night shift's checks (night.go) pass in
	// minutes; 0 the wall clock.
	NightSpeed float64
}

// Defaults fills in what is unset.
func (c *Config) Defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Dir, "var")
	def(&c.Listen, "127.0.0.1:8080")
	def(&c.BrokerListen, "127.0.0.1:18830")
	def(&c.IngestListen, "127.0.0.1:8081")
	if c.Homes == 0 {
		c.Homes = 20
	}
	if c.Tick == 0 {
		c.Tick = 10 * time.Second
	}
	if c.AlarmEvery == 0 {
		c.AlarmEvery = 45 * time.Second
	}
	if c.FirstAlarm == 0 {
		c.FirstAlarm = 15 * time.Second
	}
	if c.EscalateAfter == 0 {
		c.EscalateAfter = time.Minute
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Homes < 1 || c.Homes > 500 {
		return fmt.Errorf("demo: %d homes: 1-500", c.Homes)
	}
	if c.Tick < time.Second || c.AlarmEvery < time.Second || c.EscalateAfter < time.Second {
		return errors.New("demo: tick, alarm interval and escalation time must be at least a second")
	}
	return nil
}

// Run starts everything, prints where to look and with which tokens, and runs until ctx
// ends; then it stops the homes first (their gateways keep in their spools what the broker
// did not acknowledge), then ingest and the API, then the broker and InfluxDB.
func Run(ctx context.Context, c Config, log *slog.Logger, stdout io.Writer) error {
	c.Defaults()
	if err := c.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	influxDB, err := localstack.StartInfluxDB(ctx, localstack.InfluxDBOptions{DataDir: filepath.Join(dir, "influxdb"), Logger: log})
	if err != nil {
		return fmt.Errorf("demo: InfluxDB: %w", err)
	}
	defer influxDB.Close()

	broker := brokerAccess{url: c.Broker}
	if c.Broker == "" {
		embedded, err := startBroker(c.BrokerListen, filepath.Join(dir, "broker.db"), log)
		if err != nil {
			return fmt.Errorf("demo: broker: %w", err)
		}
		defer embedded.Close()
		broker = brokerAccess{url: embedded.url, auth: embedded.auth}
	}
	ingestUser, ingestPassword, err := broker.user("ingest", roleService, "")
	if err != nil {
		return err
	}
	apiUser, apiPassword, err := broker.user("api", roleService, "")
	if err != nil {
		return err
	}

	shift, day := nightClocks(c.NightSpeed, time.Now())
	policy := alerts.DefaultPolicy()
	policy.Escalate[vagt.PriorityCritical] = c.EscalateAfter
	policy.Escalate[vagt.PriorityHigh] = c.EscalateAfter
	srv, err := server.New(ctx, server.Config{Listen: c.Listen, DB: filepath.Join(dir, "vagt.db"), Broker: broker.url,
		ClientID: "demo-api", Username: apiUser, Password: apiPassword, Policy: policy,
		Influx: influx.Config{URL: influxDB.URL(), Org: influxDB.Org, Bucket: influxDB.Bucket(), Token: influxDB.Token}},
		server.Deps{Logger: log.With("component", "api"), NightClock: shift})
	if err != nil {
		return fmt.Errorf("demo: api: %w", err)
	}
	village, err := seed(ctx, srv.Store, c.Homes, filepath.Join(dir, "tokens.json"))
	if err != nil {
		srv.Store.Close()
		return fmt.Errorf("demo: registry: %w", err)
	}

	if n, err := planNights(ctx, srv.CarePlans(), village.homes, c.Tick); err != nil {
		srv.Store.Close()
		return fmt.Errorf("demo: %w", err)
	} else if n > 0 {
		log.Info("demo: night checks planned", "homes", n)
	}

	// Every component runs until ctx ends or one of them fails, which stops them all.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var services, homes sync.WaitGroup
	fail := func(what string, err error) {
		if err != nil && ctx.Err() == nil {
			cancel(fmt.Errorf("demo: %s: %w", what, err))
		}
	}
	services.Go(func() { fail("api", srv.Run(ctx)) })
	ingestStarted := make(chan string, 1)
	services.Go(func() {
		fail("ingest", ingest.Run(ctx, ingest.Config{Broker: broker.url, ClientID: "demo-ingest", Username: ingestUser, Password: ingestPassword,
			InfluxURL: influxDB.URL(), InfluxBucket: influxDB.Bucket(), InfluxToken: influxDB.Token, Setup: true, HTTPAddr: c.IngestListen},
			ingest.Deps{Logger: log.With("component", "ingest"), Started: func(addr string) { ingestStarted <- addr }}))
	})

	out := &printer{w: stdout}
	sim := &simulation{cfg: c, dir: dir, broker: broker, log: log.With("component", "homes"), day: day, announce: out.alarm}
	for i, h := range village.homes {
		home, err := sim.start(ctx, i, h)
		if err != nil {
			cancel(fmt.Errorf("demo: home %s: %w", h.gateway, err))
			break
		}
		homes.Go(func() { fail("home "+string(h.gateway), home.run(ctx)) })
	}
	if len(village.homes) > 0 {
		if err := seedTracker(ctx, srv.Store, village.homes[0]); err != nil {
			cancel(fmt.Errorf("demo: GPS tracker: %w", err))
		}
		homes.Go(func() { sim.tracker(ctx, c.Tick*2) })
	}

	// The alarms start after the welcome, so each one's line comes below the block that
	// says where to see it.
	select {
	case addr := <-ingestStarted:
		out.welcome(welcome{api: srv.Addr(), broker: broker.url, influx: influxDB.URL(), ingest: addr, escalate: c.EscalateAfter}, village)
		homes.Go(func() { sim.alarms(ctx) })
		homes.Go(func() { out.follow(ctx, srv.Feed, village.homes) })
	case <-ctx.Done():
	}
	<-ctx.Done()
	out.line("vagt-demo: stopping (data kept in " + dir + ")")
	// The homes stop before the platform, so their gateways hand over what they can.
	homes.Wait()
	services.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
