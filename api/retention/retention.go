// Package retention is the periodic job that keeps data no longer than allowed: alert
// records are anonymised once the keeping period is over (their counts stay for
// statistics), and a municipality that keeps telemetry for a shorter time than the
// InfluxDB retention policy has its older points deleted.
package retention

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/internal/outage"
)

// Policy is how long things are kept.
type Policy struct {
	// KeepAlerts is how long resolved alert records keep who acted, notes and details;
	// default 10 years. Set it to what the municipality's legal advice says.
	KeepAlerts time.Duration
	// Every is how often the job runs; default 1 hour.
	Every time.Duration
}

// Store anonymises alerts and knows each municipality's telemetry retention.
type Store interface {
	AnonymiseAlerts(ctx context.Context, before, now time.Time) (int, error)
	TelemetryRetention(ctx context.Context) (map[vagt.MunicipalityCode]int, error)
}

// TelemetryDeleter deletes a municipality's telemetry older than a time (influx.Telemetry).
type TelemetryDeleter interface {
	DeleteBefore(ctx context.Context, m vagt.MunicipalityCode, before time.Time) error
}

// ActivityForgetter forgets the daily roll-up of devices that reported (api/rollup) of a
// municipality's telemetry that retention deleted.
type ActivityForgetter interface {
	ForgetBefore(ctx context.Context, m vagt.MunicipalityCode, before time.Time) error
}

// Job runs the policy at the clock's time.
type Job struct {
	Store     Store
	Telemetry TelemetryDeleter  // nil: no telemetry to trim
	Activity  ActivityForgetter // nil: no roll-up to trim
	Clock     api.Clock
	Policy    Policy
	Logger    *slog.Logger
}

func (j *Job) defaults() {
	if j.Policy.KeepAlerts <= 0 {
		j.Policy.KeepAlerts = 10 * 365 * 24 * time.Hour
	}
	if j.Policy.Every <= 0 {
		j.Policy.Every = time.Hour
	}
	if j.Logger == nil {
		j.Logger = slog.New(slog.DiscardHandler)
	}
	if j.Clock == nil {
		j.Clock = api.SystemClock{}
	}
}

// Result is what one run did.
type Result struct {
	AlertsAnonymised int
	Municipalities   int // whose telemetry was trimmed
}

// Tick runs the policy once.
func (j *Job) Tick(ctx context.Context) (Result, error) {
	j.defaults()
	var r Result
	now := j.Clock.Now()
	n, err := j.Store.AnonymiseAlerts(ctx, now.Add(-j.Policy.KeepAlerts), now)
	r.AlertsAnonymised = n
	if err != nil {
		return r, err
	}
	if j.Telemetry == nil {
		return r, nil
	}
	days, err := j.Store.TelemetryRetention(ctx)
	if err != nil {
		return r, err
	}
	var errs []error
	for m, d := range days {
		before := now.Add(-time.Duration(d) * 24 * time.Hour)
		if err := j.Telemetry.DeleteBefore(ctx, m, before); err != nil {
			errs = append(errs, err)
			continue
		}
		if j.Activity != nil {
			if err := j.Activity.ForgetBefore(ctx, m, before); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		r.Municipalities++
	}
	return r, errors.Join(errs...)
}

// Run ticks every Policy.Every until ctx is done. A failed run is retried at the next
// tick, logged when the failures begin and when they end (outage.Log): the job is never a
// reason to stop the API.
func (j *Job) Run(ctx context.Context) error {
	j.defaults()
	failures := &outage.Log{Logger: j.Logger, Loop: "retention"}
	t := time.NewTicker(j.Policy.Every)
	defer t.Stop()
	for {
		r, err := j.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			failures.Failed(err)
		case err == nil:
			failures.OK()
		}
		if r.AlertsAnonymised > 0 || r.Municipalities > 0 {
			j.Logger.Info("retention: ran", "alerts_anonymised", r.AlertsAnonymised, "telemetry_trimmed", r.Municipalities)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
