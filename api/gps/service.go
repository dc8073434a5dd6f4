package gps

import (
	"context"

	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/internal/outage"
)

// Store is what the service needs of the SQL store (api/sqlstore).
type Store interface {
	RecordPosition(ctx context.Context, p Position, now time.Time, decide func(*TrackerState) []Alarm) (int, error)
	DetectSilentTrackers(ctx context.Context, before, now time.Time) (int, error)
	PrunePositions(ctx context.Context, cutoff time.Time) (int64, error)
}

// Clock is the service's time (tests use a fixed one).
type Clock interface{ Now() time.Time }

// Options configure a Service.
type Options struct {
	Limits     Limits
	Clock      Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics not registered
	Every      time.Duration         // how often silence and retention are looked at; default 1 min
}

// Service accepts positions and runs the silent-tracker and retention loop.
type Service struct {
	store    Store
	limits   Limits
	clock    Clock
	log      *slog.Logger
	every    time.Duration
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
	alarms   prometheus.Counter
	burst    burstLog
	taken    atomic.Int64
	// silentFail and pruneFail log the loop's store failures once an outage.
	silentFail, pruneFail outage.Log
}

// NewService returns a service over store.
func NewService(store Store, o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Every <= 0 {
		o.Every = time.Minute
	}
	s := &Service{store: store, limits: o.Limits.WithDefaults(), clock: o.Clock, log: o.Logger, every: o.Every,
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "vagt_gps_positions_total", Help: "GPS positions accepted and stored."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_gps_rejected_total",
			Help: "GPS positions and messages refused, by reason (docs/gps.md)."}, []string{"source", "reason"}),
		alarms: prometheus.NewCounter(prometheus.CounterOpts{Name: "vagt_gps_alarms_total", Help: "Alerts raised or repeated by GPS positions."}),
	}
	s.burst.log, s.burst.quiet = o.Logger, time.Minute
	s.silentFail.Logger, s.silentFail.Loop = o.Logger, "gps: silent tracker check"
	s.pruneFail.Logger, s.pruneFail.Loop = o.Logger, "gps: retention"
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.accepted, s.rejected, s.alarms)
	}
	return s
}

// Limits returns the limits in force.
func (s *Service) Limits() Limits { return s.limits }

// Accept checks and stores one position. A Rejection says why it was refused (counted,
// logged once per burst); any other error is the store failing and the sender should
// retry (the MQTT message is not acknowledged, the HTTP request gets 503).
func (s *Service) Accept(ctx context.Context, p Position) error {
	now := s.clock.Now()
	err := p.Check(now, s.limits)
	if err == nil {
		var n int
		n, err = s.store.RecordPosition(ctx, p, now, func(st *TrackerState) []Alarm { return Decide(st, p, s.limits) })
		if err == nil {
			s.accepted.Inc()
			s.taken.Add(1)
			s.alarms.Add(float64(n))
			return nil
		}
	}
	if ReasonOf(err) != "" {
		s.Refused(p.Source, p.Tracker, err)
	}
	return err
}

// Refused counts and logs (once per burst) a message refused before or after parsing.
func (s *Service) Refused(source, tracker string, err error) {
	reason := ReasonOf(err)
	if reason == "" {
		reason = ReasonMalformed
	}
	s.rejected.WithLabelValues(source, reason).Inc()
	s.burst.note(s.clock.Now(), source+"/"+reason, tracker, err)
}

// Accepted returns how many positions were stored (tests, the load report).
func (s *Service) Accepted() int64 { return s.taken.Load() }

// Rejected returns how many messages were refused for reason (tests, the load report).
func (s *Service) Rejected(source, reason string) float64 {
	s.burst.mu.Lock()
	defer s.burst.mu.Unlock()
	return float64(s.burst.counts[source+"/"+reason])
}

// Run looks for silent trackers and deletes positions past the retention period until
// ctx is done. A store that does not answer is logged and tried again next round.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick runs one round of the loop (tests call it with their clock).
func (s *Service) Tick(ctx context.Context) {
	now := s.clock.Now()
	if n, err := s.store.DetectSilentTrackers(ctx, now.Add(-s.limits.Silence), now); err != nil {
		s.silentFail.Failed(err)
	} else {
		s.silentFail.OK()
		if n > 0 {
			s.log.Warn("gps: trackers silent", "count", n, "silence", s.limits.Silence)
		}
	}
	if n, err := s.store.PrunePositions(ctx, now.Add(-s.limits.Retention)); err != nil {
		s.pruneFail.Failed(err)
	} else {
		s.pruneFail.OK()
		if n > 0 {
			s.log.Info("gps: positions deleted after the retention period", "count", n, "retention", s.limits.Retention)
		}
	}
}

// burstLog logs the first refusal of a kind, then counts quietly until the kind has been
// quiet for a while, and says how many it did not log.
type burstLog struct {
	log    *slog.Logger
	quiet  time.Duration
	mu     sync.Mutex
	kinds  map[string]*burst
	counts map[string]int
}

type burst struct {
	last       time.Time
	suppressed int
}

func (b *burstLog) note(now time.Time, kind, tracker string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kinds == nil {
		b.kinds, b.counts = map[string]*burst{}, map[string]int{}
	}
	b.counts[kind]++
	k := b.kinds[kind]
	if k != nil && now.Sub(k.last) < b.quiet {
		k.suppressed++
		k.last = now
		return
	}
	suppressed := 0
	if k != nil {
		suppressed = k.suppressed
	}
	b.kinds[kind] = &burst{last: now}
	b.log.Warn("gps: position refused (further refusals of this kind are counted, not logged, until a minute passes without one)",
		"kind", kind, "tracker", tracker, "err", err, "not_logged_before", suppressed)
}
