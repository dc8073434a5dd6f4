package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/ingest/influx"
	"github.com/vagt-dk/vagt/ingest/mqttin"
)

// Deps are what Run is handed rather than finding itself.
type Deps struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: a new one
	Listener net.Listener         // nil: listen on Config.HTTPAddr
	Now      func() time.Time     // nil: time.Now
	// Started, when set, is called once intake runs, with the HTTP address.
	Started func(addr string)
}

// Run runs ingest until ctx ends, then shuts down: it stops taking messages, writes what
// it took in (for up to DrainTimeout), acknowledges it, and disconnects; what could not be
// written stays unacknowledged with the broker.
func Run(ctx context.Context, cfg Config, d Deps) error {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("ingest: config: %w", err)
	}
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := d.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	w, err := influx.New(influx.Config{URL: cfg.InfluxURL, Org: cfg.InfluxOrg, Bucket: cfg.InfluxBucket, Token: cfg.InfluxToken, Raw: cfg.InfluxRaw})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer w.Close()

	// The HTTP server starts before the InfluxDB set-up, which waits as long as InfluxDB is
	// unreachable: meanwhile /healthz answers and /readyz says what is awaited; telemetry
	// is taken only once the full routes replace these.
	ln := d.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("ingest: listen: %w", err)
		}
	}
	var setupErr atomic.Pointer[error]
	waiting := error(errors.New("waiting for the InfluxDB set-up"))
	setupErr.Store(&waiting)
	var handler atomic.Pointer[http.Handler]
	starting := routes(nil, nil, 0, 0, func(context.Context) error { return *setupErr.Load() }, reg)
	handler.Store(&starting)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(rw, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	defer func() {
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
		<-srvErr
	}()

	if cfg.Setup {
		notReady := func(err error) {
			err = fmt.Errorf("InfluxDB set-up not done, retrying: %w", err)
			setupErr.Store(&err)
		}
		if err := setupRetrying(ctx, w, cfg.Retention, logger, notReady); err != nil {
			return err
		}
	}
	var tokens *Tokens
	if cfg.TokenFile != "" {
		if tokens, err = LoadTokens(cfg.TokenFile); err != nil {
			return err
		}
	}
	metrics := NewMetrics(reg)
	var consumer atomic.Pointer[mqttin.Consumer] // set once connected; read by the pipeline and /readyz
	dead := func(m *Message, err error) {
		if c := consumer.Load(); c != nil && m.Topic != "" {
			c.DeadLetter(m.Topic, vagt.Reason(err), m.Payload)
		}
	}
	p := NewPipeline(PipelineConfig{
		QueueSize: cfg.InFlight, MaxBytes: cfg.InFlightBytes, BatchPoints: cfg.BatchPoints, Linger: cfg.Linger,
		Writers: cfg.Writers, DrainTimeout: cfg.DrainTimeout, Now: d.Now, Logger: logger,
	}, w, metrics, dead)

	pipeCtx, stopPipe := context.WithCancel(ctx)
	defer stopPipe()
	pipeDone := make(chan struct{})
	go func() {
		defer close(pipeDone)
		_ = p.Run(pipeCtx)
	}()
	defer func() { stopPipe(); <-pipeDone }()

	ready := func(ctx context.Context) error {
		if c := consumer.Load(); cfg.Broker != "" && (c == nil || !c.Connected()) {
			return errors.New("broker not connected, or its lanes not subscribed")
		}
		return w.Ping(ctx)
	}
	full := routes(p, tokens, cfg.MaxBodyLen, cfg.HTTPWait, ready, reg)
	handler.Store(&full)

	if cfg.Broker != "" {
		tlsCfg, err := vagt.ClientTLS(cfg.TLSCA, cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		handle := func(m mqttin.Delivery) {
			if n := int64(len(m.Payload)); n > cfg.MaxBodyLen {
				p.refuseOversize(m.Topic, n, cfg.MaxBodyLen, m.Ack)
				return
			}
			msg := Message{Topic: m.Topic, Payload: m.Payload, Done: func(error) { m.Ack() }}
			if err := p.TrySubmit(msg); errors.Is(err, ErrQueueFull) {
				// Unreachable while InFlight >= the broker's in-flight window (see
				// docs/ingest.md); if it happens, wait rather than lose the message.
				_ = p.Submit(context.Background(), msg)
			}
		}
		c, err := mqttin.New(ctx, mqttin.Config{
			Broker: cfg.Broker, ClientID: cfg.ClientID, Username: cfg.Username, Password: cfg.Password,
			TLS: tlsCfg, Group: cfg.Group, Partition: cfg.Partition, DeadLetterPrefix: cfg.DeadLetter, Logger: logger,
		}, handle)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		consumer.Store(c)
	}
	logger.Info("ingest running", "http", ln.Addr().String(), "broker", cfg.Broker, "influx", cfg.InfluxURL, "bucket", cfg.InfluxBucket)
	if d.Started != nil {
		d.Started(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-srvErr:
		srvErr <- err
		logger.Error("http server failed", "err", err)
	}
	// Drain before disconnecting, so the acknowledgements of what is written still go out.
	stopPipe()
	<-pipeDone
	if c := consumer.Load(); c != nil {
		c.Close()
	}
	logger.Info("ingest stopped")
	return nil
}

// setupRetrying runs the InfluxDB set-up until it succeeds, is refused, or ctx ends;
// notReady hears each failure (for /readyz).
func setupRetrying(ctx context.Context, w *influx.Writer, retention time.Duration, logger *slog.Logger, notReady func(error)) error {
	for attempt := 1; ; attempt++ {
		err := w.Setup(ctx, retention)
		if err == nil {
			return nil
		}
		if errors.Is(err, influx.ErrSetupRefused) {
			// A wrong token or org: waiting cannot mend it, the operator must.
			return fmt.Errorf("ingest: %w", err)
		}
		notReady(err)
		if attempt == 1 || attempt%10 == 0 {
			logger.Warn("InfluxDB setup failed; retrying", "attempt", attempt, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ingest: %w", errors.Join(err, ctx.Err())) // err says "influx setup: ..."
		case <-time.After(time.Second):
		}
	}
}
