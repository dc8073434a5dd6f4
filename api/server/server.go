// Package server is the platform's HTTP side (vagt api): it consumes the alarm and status lanes
// itself, so alarms reach the care staff on duty even when InfluxDB or ingest is down; keeps
// alerts, the registry, users and the audit log in the SQL store; and serves the REST API,
// the live alert stream, statistics and the web pages.
//
// This file wires the parts (api/sqlstore, api/alarmlane, api/alerts, api/httpapi) into one
// Server that cmd/vagt starts and tests start on 127.0.0.1:0.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alarmlane"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/downlink"
	"github.com/vagt-dk/vagt/api/fhir"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/mqttpub"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/retention"
	"github.com/vagt-dk/vagt/api/rollup"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/api/stats"
)

// Server is a running API: store, lane, feed, escalation and offline loops, HTTP.
type Server struct {
	Store     *sqlstore.Store
	Feed      *alerts.Feed
	Escalator *alerts.Escalator
	lane      *alarmlane.Lane
	noLane    bool // Config.NoAlarmLane: no broker, on purpose
	off       *alerts.OfflineDetector
	http      *http.Server
	ln        net.Listener
	metrics   *http.Server // nil: no metrics listener
	metricsLn net.Listener
	telemetry *influx.Telemetry
	retention *retention.Job
	rollup    *rollup.Job // nil: no InfluxDB, or the roll-up is off
	rollupTel *influx.Telemetry
	careplans *careplan.Service
	night     *night.Service
	nightTel  *influx.Night // nil: no InfluxDB; the board says the sensors' state is unknown
	configPub *mqttpub.Publisher
	downlink  *downlink.Notifier // nil without a broker
	downPub   *mqttpub.Publisher
	gps       *gps.Service
	owntracks *gps.OwnTracksConsumer // nil without a broker
	log       *slog.Logger
	clock     api.Clock
	tick      time.Duration
	laneWake  chan struct{} // the lane's state may have changed
}

// Deps are what the server gets from outside rather than from its configuration.
type Deps struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: a new one
	Clock    api.Clock            // nil: the system clock
	// NightClock is the night board's shift clock (night.Service.Shift); nil: Clock.
	NightClock api.Clock
}

// New opens the store (running migrations) and binds the listener; Run starts the rest.
func New(ctx context.Context, c Config, d Deps) (*Server, error) {
	c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if d.Clock == nil {
		d.Clock = api.SystemClock{}
	}
	store, err := sqlstore.Open(ctx, c.DB, sqlstore.Options{Policy: c.Policy, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	s := &Server{Store: store, log: d.Logger, clock: d.Clock, tick: c.Tick, laneWake: make(chan struct{}, 1)}
	if s.tick <= 0 {
		s.tick = time.Second
	}
	s.Feed = alerts.NewFeed(store.AlertService, alerts.FeedOptions{Poll: c.FeedPoll, Logger: d.Logger, Registerer: d.Registry})
	store.OnCommit(s.Feed.Wake)
	s.noLane = c.NoAlarmLane
	// Unheard: an alert whose tier has nobody listening moves on at once (docs/alerts.md,
	// "Rosters and escalation"); this replica's listeners are its feed's streams.
	s.Escalator = &alerts.Escalator{Store: store.AlertService, Clock: d.Clock, Every: c.Tick, Logger: d.Logger,
		Unheard: store.AlertService, Listeners: s.Feed, Replica: replicaID()}
	s.off = &alerts.OfflineDetector{Store: store.AlertService, Clock: d.Clock, Every: c.Tick, Logger: d.Logger}
	d.Registry.MustRegister(alerts.NewGaugeCollector(store.AlertService, alerts.GaugeOptions{Clock: d.Clock, Policy: c.Policy, Logger: d.Logger}))
	tlsConfig, err := vagt.ClientTLS(c.TLSCA, c.TLSCert, c.TLSKey)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	if c.Broker != "" {
		// The config lane publishes with a client of its own: the alarm lane's session is
		// persistent and acknowledges in order, a publisher needs neither.
		s.configPub = mqttpub.New(mqttpub.Options{Name: "careplan", Retained: true, Broker: c.Broker, ClientID: c.ClientID + "-config",
			Username: c.Username, Password: c.Password, TLS: tlsConfig})
	}
	if c.Broker != "" {
		// Help confirmed back in the home: told from the committed event log, on a client
		// of its own like the config lane's.
		s.downPub = mqttpub.New(mqttpub.Options{Name: "downlink", Broker: c.Broker, ClientID: c.ClientID + "-downlink",
			Username: c.Username, Password: c.Password, TLS: tlsConfig})
		s.downlink = downlink.New(store.AlertService, s.downPub, downlink.Options{Poll: c.FeedPoll, Clock: d.Clock, Logger: d.Logger, Registerer: d.Registry})
		store.OnCommit(s.downlink.Wake)
		// Before the lane can commit what queued while the api was down: those alarms are
		// told too. If the store does not answer now, Run starts when it does.
		if err := s.downlink.Prime(ctx); err != nil {
			d.Logger.Warn("downlink: not primed; starts at the end of the event log when it runs", "err", err)
		}
	}
	cpOpts := careplan.Options{Clock: d.Clock, Logger: d.Logger, Republish: c.ConfigRepublish}
	if s.configPub != nil {
		cpOpts.Publisher = s.configPub
	}
	s.careplans = careplan.NewService(store.CarePlanService, cpOpts)
	if c.Broker != "" {
		s.lane, err = alarmlane.New(laneSink{store.AlertService, d.Clock, s.careplans, s.downlink}, alarmlane.Options{Broker: c.Broker, ClientID: c.ClientID, Group: c.Group,
			Username: c.Username, Password: c.Password, TLS: tlsConfig, Workers: c.Workers, Logger: d.Logger, Registerer: d.Registry,
			OnChange: s.wakeLane})
		if err != nil {
			store.Close()
			return nil, err
		}
	}
	d.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vagt_api_alarm_lane_subscribed",
		Help: "1 while the alarm lane is subscribed and the store takes what arrives (alarms can become alerts), else 0."},
		func() float64 {
			if st, ok := s.Feed.Lane(); ok && st.Subscribed {
				return 1
			}
			return 0
		}))
	var (
		oidc   httpapi.JWTVerifier
		signIn httpapi.SignInFlow
	)
	if c.OIDC.Issuer != "" {
		v, err := auth.NewOIDC(c.OIDC)
		if err == nil && c.SignIn.Enabled() {
			signIn, err = auth.NewSignIn(v, c.SignIn)
		}
		if err != nil {
			store.Close()
			return nil, err
		}
		oidc = v
	}
	model := stats.DefaultBenefitModel()
	if c.BenefitModel != "" {
		b, err := os.ReadFile(c.BenefitModel)
		if err == nil {
			model, err = stats.ParseBenefitModel(b)
		}
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	pop := stats.DefaultPopulation()
	if c.Population65 != "" {
		f, err := os.Open(c.Population65)
		if err == nil {
			pop, err = stats.ReadPopulation(f)
			f.Close()
		}
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("api: --population65 %s: %w", c.Population65, err)
		}
	}
	svc := &stats.Service{Store: store.StatsService, Model: model, Population: pop, Logger: d.Logger, Night: night.Counts{Store: store.NightService},
		Trackers: store.GPSService} // Trackers: gps_tracker counts what trackers reported
	// Night supervision sweeps for missed checks every ten ticks (10 s by default: Tick
	// unset is the escalator's 1 s, and 10 × 0 was the sweep's own 30 s).
	nightTick := c.Tick
	if nightTick <= 0 {
		nightTick = time.Second
	}
	s.night = &night.Service{Store: store.NightService, Clock: d.Clock, Shift: d.NightClock, Logger: d.Logger, Tick: 10 * nightTick}
	rs := store.RegistryService // every area of the registry routes (httpapi.Registry)
	hc := httpapi.Config{Night: s.night, Alerts: store.AlertService, Auth: authStore{store.UserService, store.AuditService}, Feed: s.Feed, OIDC: oidc, SignIn: signIn, Clock: d.Clock, Logger: d.Logger,
		Gatherer: d.Registry, Metrics: d.Registry, Ready: s.ready, OpenAPI: api.OpenAPI, StreamWriteTimeout: c.StreamWriteTimeout,
		MaxStreams: c.MaxStreams, MaxStreamsPerPrincipal: c.MaxStreamsPerPrincipal,
		Registry: httpapi.Registry{Municipalities: rs, Districts: rs, Citizens: rs, Homes: rs, Gateways: rs, Devices: rs,
			DeviceTests: rs, CitizenData: rs, Secrets: rs},
		Stats: svc, StatsRetention: c.Retention.KeepAlerts, Population: pop, HomeConfigs: s.careplans, Rosters: store.RosterService,
		FHIR:     fhir.NewService(fhir.Config{Store: store, Now: d.Clock.Now}),
		Citizens: httpapi.CitizenPortal{Pages: rs, Grants: rs, Logins: rs}, IdentityKey: c.NationalLogin.Key}
	if c.NationalLogin.Enabled() {
		citizenFlow, relativeFlow, err := auth.NewNationalLogin(c.NationalLogin, store)
		if err != nil {
			store.Close()
			return nil, err
		}
		hc.CitizenSignIn, hc.RelativeSignIn = citizenFlow, relativeFlow
	}
	s.gps, s.owntracks = newGPS(c, store.GPSService, d.Clock, d, gps.MQTTOptions{Broker: c.Broker, Username: c.Username, Password: c.Password, TLS: tlsConfig})
	hc.GPS = gpsHTTP{s.gps, store.GPSService}
	hc.MetricsToken = c.MetricsToken
	hc.Presence = store.AlertService // take, on my way, arrived (issue 21 item 3)
	s.retention = &retention.Job{Store: store.RetentionService, Clock: d.Clock, Policy: c.Retention, Logger: d.Logger}
	if c.Influx.URL != "" {
		// The client connects per query: an InfluxDB that is down makes statistics answer
		// 503, and alerts never wait for it.
		s.telemetry, err = influx.NewTelemetry(c.Influx)
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("api: %w", err)
		}
		svc.Telemetry, hc.Telemetry, s.retention.Telemetry = s.telemetry, s.telemetry, s.telemetry
		if s.nightTel, err = influx.NewNight(c.Influx.URL, c.Influx.Org, c.Influx.Bucket, c.Influx.Token, 10*time.Second); err != nil {
			store.Close()
			return nil, fmt.Errorf("api: %w", err)
		}
		s.night.Sensors = s.nightTel
		s.retention.Activity = rollup.Retention{Store: store.StatsService}
		if !c.Rollup.Off {
			// A day of the load is ~29 M points: the roll-up's queries get a
			// client of their own with a longer timeout than the requests'.
			rc := c.Influx
			rc.Timeout = max(rc.Timeout, 10*time.Minute)
			if s.rollupTel, err = influx.NewTelemetry(rc); err != nil {
				store.Close()
				return nil, fmt.Errorf("api: %w", err)
			}
			s.rollup = &rollup.Job{Store: store.StatsService, Telemetry: s.rollupTel, Clock: d.Clock, Policy: c.Rollup, Logger: d.Logger}
			svc.Telemetry = &rollup.Activity{Store: store.StatsService, Flux: s.telemetry}
			d.Registry.MustRegister(
				prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vagt_rollup_failed_runs_total",
					Help: "Roll-up runs that failed (InfluxDB or the SQL store did not answer); retried at the next run."},
					func() float64 { return float64(s.rollup.Failures()) }),
				prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vagt_rollup_days_total",
					Help: "Days the roll-up has rolled up, re-rolls included."},
					func() float64 { return float64(s.rollup.DaysRolled()) }))
		}
	}
	handler := httpapi.NewHandler(hc)
	var serverTLS *tls.Config
	if c.HTTPSCert != "" || c.HTTPSKey != "" {
		cert, err := tls.LoadX509KeyPair(c.HTTPSCert, c.HTTPSKey)
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("api: HTTPS certificate: %w", err)
		}
		serverTLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	s.ln, err = net.Listen("tcp", c.Listen)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("api: listen: %w", err)
	}
	if c.MetricsListen != "" {
		if s.metricsLn, err = net.Listen("tcp", c.MetricsListen); err != nil {
			s.ln.Close()
			store.Close()
			return nil, fmt.Errorf("api: metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", httpapi.MetricsHandler(d.Registry))
		s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	}
	// No WriteTimeout: the stream lives long and sets its own deadline per write.
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(d.Logger.Handler(), slog.LevelWarn), TLSConfig: serverTLS}
	return s, nil
}

// Addr is the address the HTTP server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// MetricsAddr is the address of the metrics listener, "" without one.
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

// AlarmLane returns the lane consumer, nil without a broker.
func (s *Server) AlarmLane() *alarmlane.Lane { return s.lane }

// CarePlans returns the care-plan service (the demo plans its homes' night checks).
func (s *Server) CarePlans() *careplan.Service { return s.careplans }

// Downlink returns the notifier that tells gateways what became of their alarms, nil
// without a broker.
func (s *Server) Downlink() *downlink.Notifier { return s.downlink }

// OfflineDetector returns the offline loop (tests tick it by hand).
func (s *Server) OfflineDetector() *alerts.OfflineDetector { return s.off }

func (s *Server) ready(ctx context.Context) error {
	if s.lane == nil && !s.noLane {
		return errors.New("no alarm lane: started without a broker, so no alarm can arrive (--no-alarm-lane if that is intended)")
	}
	if err := s.Store.Ping(ctx); err != nil {
		return err
	}
	if s.lane != nil {
		if up, why := s.lane.State(); !up {
			return fmt.Errorf("alarm lane not subscribed (%s)", why)
		}
	}
	return nil
}

func (s *Server) wakeLane() {
	select {
	case s.laneWake <- struct{}{}:
	default:
	}
}

// watchLane keeps the feed's lane state true, so that every open console shows at once
// when alarms cannot become alerts (broker down, subscription refused, store unavailable)
// and when they can again. The lane reports its own changes; the store, which may fail
// while nothing arrives, is pinged every tick.
func (s *Server) watchLane(ctx context.Context) error {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	var last alerts.LaneState
	for first := true; ; first = false {
		up, why := s.lane.State()
		if up {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := s.Store.Ping(pctx); err != nil && ctx.Err() == nil {
				up, why = false, alarmlane.DownStore
			}
			cancel()
		}
		if first || up != last.Subscribed || why != last.Reason {
			last = alerts.LaneState{Subscribed: up, Reason: why, Since: s.clock.Now()}
			s.Feed.SetLane(last)
			if up {
				s.log.Info("alarm lane subscribed: alarms become alerts")
			} else if !first || why != alarmlane.DownConnecting {
				s.log.Warn("alarm lane not subscribed: alarms cannot become alerts", "reason", why)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.laneWake:
		}
	}
}

// Run serves until ctx is done or a part fails, then stops every part, waits for it and
// closes the store.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			err := f(ctx)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("api: %s: %w", name, err)
				}
				mu.Unlock()
			}
			cancel() // one part stopping stops all
		})
	}
	wake := func() {
		s.Feed.Wake()
		if s.downlink != nil {
			s.downlink.Wake()
		}
	}
	run("feed", s.Feed.Run)
	run("escalation", s.Escalator.Run)
	run("offline detection", s.off.Run)
	run("retention", s.retention.Run)
	if s.rollup != nil {
		run("rollup", s.rollup.Run)
	}
	run("care plans", s.careplans.Run)
	run("night checks", s.night.Run)
	run("gps", s.gps.Run)
	if s.owntracks != nil {
		run("owntracks", s.owntracks.Run)
	}
	if s.configPub != nil {
		run("config publisher", s.configPub.Run)
	}
	if s.downlink != nil {
		run("downlink publisher", s.downPub.Run)
		run("downlink", s.downlink.Run)
	}
	if s.Store.Postgres() {
		run("listen", func(ctx context.Context) error { return s.Store.Listen(ctx, wake) })
	}
	if s.lane != nil {
		run("alarm lane", s.lane.Run)
		run("alarm lane state", s.watchLane)
	}
	run("http", func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() {
			if s.http.TLSConfig != nil {
				errc <- s.http.ServeTLS(s.ln, "", "") // the certificate is in TLSConfig
				return
			}
			errc <- s.http.Serve(s.ln)
		}()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		// The streams end when the feed stops; give the rest a moment.
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		err := s.http.Shutdown(sctx)
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		return err
	})
	if s.metrics != nil {
		run("metrics", func(ctx context.Context) error {
			errc := make(chan error, 1)
			go func() { errc <- s.metrics.Serve(s.metricsLn) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			err := s.metrics.Close()
			<-errc
			return err
		})
	}
	s.log.Info("api serving", "addr", s.Addr(), "postgres", s.Store.Postgres(), "lane", s.lane != nil)
	wg.Wait()
	if s.telemetry != nil {
		s.telemetry.Close()
	}
	if s.rollupTel != nil {
		s.rollupTel.Close()
	}
	if s.nightTel != nil {
		s.nightTel.Close()
	}
	return errors.Join(firstErr, s.Store.Close())
}
