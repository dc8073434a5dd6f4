package rollup

import (
	"context"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/internal/outage"
)

// Policy is when and how far the roll-up runs.
type Policy struct {
	// Off leaves statistics on InfluxDB alone (the roll-up is neither written nor read).
	Off bool
	// Every is how often the job runs; default 1 hour.
	Every time.Duration
	// RedoDays is how many of the last closed days are rolled up again, once a day each,
	// for readings that gateways spooled while offline and delivered late; default 7.
	RedoDays int
	// BackfillDays is how far back the roll-up goes; older days are answered from
	// InfluxDB. Default 400 (a year by month with room).
	BackfillDays int
	// DaysPerRun bounds one run's work on InfluxDB (the first runs backfill); default 31.
	DaysPerRun int
}

// Redo is how old a re-rolled day's last roll must be before it is rolled again.
const Redo = 24 * time.Hour

func (p *Policy) defaults() {
	if p.Every <= 0 {
		p.Every = time.Hour
	}
	if p.RedoDays <= 0 {
		p.RedoDays = 7
	}
	if p.BackfillDays <= 0 {
		p.BackfillDays = 400
	}
	if p.DaysPerRun <= 0 {
		p.DaysPerRun = 31
	}
}

// Store keeps the roll-up (sqlstore.Store).
type Store interface {
	ActivityMark(ctx context.Context) (int64, error)
	ReplaceActivityDay(ctx context.Context, day int, rs []Reporter, mark int64, now time.Time) error
	RolledUpDays(ctx context.Context, from, to int) (map[int]time.Time, error)
	PruneForgotten(ctx context.Context, before time.Time) error
}

// Source tells which devices reported in a time range (influx.Telemetry).
type Source interface {
	Reporters(ctx context.Context, from, to time.Time) ([]Reporter, error)
}

// Job rolls up closed days at the clock's time. Two replicas may run it at once: a day's
// rewrite replaces the day as a whole (idempotent), and each checks just before asking
// InfluxDB whether the other has done the day meanwhile.
type Job struct {
	Store     Store
	Telemetry Source
	Clock     api.Clock
	Policy    Policy
	Location  *time.Location // nil: Copenhagen
	Logger    *slog.Logger

	failures outage.Log
	days     atomic.Int64
}

func (j *Job) defaults() {
	j.Policy.defaults()
	if j.Logger == nil {
		j.Logger = slog.New(slog.DiscardHandler)
	}
	if j.Clock == nil {
		j.Clock = api.SystemClock{}
	}
	if j.Location == nil {
		j.Location = vagt.Copenhagen
	}
}

// Failures is how many runs failed (InfluxDB or the SQL store did not answer).
func (j *Job) Failures() int64 { return j.failures.Failures() }

// DaysRolled is how many days the job has rolled up, re-rolls included.
func (j *Job) DaysRolled() int64 { return j.days.Load() }

// Result is what one run did.
type Result struct {
	Rolled   int // days rolled up for the first time
	Rerolled int // days rolled up again
	Left     int // days still to do (DaysPerRun reached)
}

// Tick runs once: first the days in the redo window whose last roll is a day old, then
// the closed days not rolled up yet, newest first, at most DaysPerRun in all. It stops at
// the first failure; what it did stays done.
func (j *Job) Tick(ctx context.Context) (Result, error) {
	j.defaults()
	var r Result
	now := j.Clock.Now()
	loc := j.Location
	today := dayOf(now, loc)
	yesterday := dayOf(today.start(loc).Add(-time.Hour), loc)
	oldest := dayOf(today.start(loc).AddDate(0, 0, -j.Policy.BackfillDays), loc)
	redoFrom := dayOf(today.start(loc).AddDate(0, 0, -j.Policy.RedoDays), loc)
	if err := j.Store.PruneForgotten(ctx, now.Add(-24*time.Hour)); err != nil {
		return r, err
	}
	done, err := j.Store.RolledUpDays(ctx, int(oldest), int(yesterday))
	if err != nil {
		return r, err
	}
	var redo, fresh []day
	for d := yesterday; d >= oldest; d = dayOf(d.start(loc).Add(-time.Hour), loc) {
		at, ok := done[int(d)]
		switch {
		case !ok:
			fresh = append(fresh, d)
		case d >= redoFrom && !at.After(now.Add(-Redo)):
			redo = append(redo, d)
		}
	}
	sort.Slice(redo, func(a, b int) bool { return redo[a] > redo[b] })
	for i, d := range append(redo, fresh...) {
		if i >= j.Policy.DaysPerRun {
			r.Left = len(redo) + len(fresh) - i
			break
		}
		did, err := j.rollDay(ctx, d, done, now)
		if err != nil {
			return r, err
		}
		if !did {
			continue
		}
		if i < len(redo) {
			r.Rerolled++
		} else {
			r.Rolled++
		}
	}
	return r, nil
}

// rollDay asks InfluxDB for one day and replaces it in the store, unless another replica
// has rolled it since this run looked.
func (j *Job) rollDay(ctx context.Context, d day, seen map[int]time.Time, now time.Time) (bool, error) {
	again, err := j.Store.RolledUpDays(ctx, int(d), int(d))
	if err != nil {
		return false, err
	}
	if at, ok := again[int(d)]; ok && !at.Equal(seen[int(d)]) {
		return false, nil
	}
	mark, err := j.Store.ActivityMark(ctx)
	if err != nil {
		return false, err
	}
	t0 := time.Now()
	rs, err := j.Telemetry.Reporters(ctx, d.start(j.Location), d.end(j.Location))
	if err != nil {
		return false, err
	}
	if err := j.Store.ReplaceActivityDay(ctx, int(d), rs, mark, now); err != nil {
		return false, err
	}
	j.days.Add(1)
	j.Logger.Debug("rollup: day", "day", int(d), "devices", len(rs), "took", time.Since(t0))
	return true, nil
}

// Run ticks every Policy.Every until ctx is done. A failed run (InfluxDB down) is
// counted, logged once until a run succeeds again, and retried at the next tick: the
// roll-up is never a reason to stop the API, and statistics answer from InfluxDB for the
// days it has not done.
func (j *Job) Run(ctx context.Context) error {
	j.defaults()
	if j.Policy.Off {
		return nil
	}
	j.failures.Logger, j.failures.Loop = j.Logger, "rollup"
	t := time.NewTicker(j.Policy.Every)
	defer t.Stop()
	for {
		r, err := j.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			j.failures.Failed(err)
		case err == nil:
			j.failures.OK()
			if r.Rolled > 0 || r.Rerolled > 0 {
				j.Logger.Info("rollup: ran", "rolled", r.Rolled, "rerolled", r.Rerolled, "left", r.Left)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
