package rollup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/stats"
)

// Reader is what Activity reads from the SQL store (sqlstore.Store).
type Reader interface {
	RolledUpDays(ctx context.Context, from, to int) (map[int]time.Time, error)
	ActiveInDays(ctx context.Context, muns []vagt.MunicipalityCode, days []int) (map[vagt.DeviceID]bool, error)
}

// Activity answers which devices reported in [from, to): the whole local days that are
// rolled up from the SQL store, the partial days at the edges and the days not rolled up
// yet from InfluxDB (Flux), each as one bounded query. The union is what Flux alone
// answers for [from, to).
type Activity struct {
	Store    Reader
	Flux     stats.ActivitySource
	Location *time.Location // nil: Copenhagen
}

var (
	_ stats.ActivitySource   = (*Activity)(nil)
	_ stats.IntervalActivity = (*Activity)(nil)
)

type span struct{ from, to time.Time }

// ActiveDevices implements stats.ActivitySource.
func (a *Activity) ActiveDevices(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.DeviceID]bool, error) {
	var parts []map[vagt.DeviceID]bool
	if err := a.active(ctx, muns, from, to, func(m map[vagt.DeviceID]bool) { parts = append(parts, m) }); err != nil {
		return nil, err
	}
	if len(parts) == 1 && parts[0] != nil {
		return parts[0], nil // a span within a day: Flux's answer as it is
	}
	out := map[vagt.DeviceID]bool{}
	for _, m := range parts {
		maps.Copy(out, m)
	}
	return out, nil
}

// ActiveInIntervals implements stats.IntervalActivity: ActiveDevices of each bucket, marked
// into one map as the per-bucket answers arrive (stats.QueryConcurrency buckets at a time),
// so the statistics look each device up once rather than once per interval.
func (a *Activity) ActiveInIntervals(ctx context.Context, muns []vagt.MunicipalityCode, buckets []stats.Bucket) (map[vagt.DeviceID]uint64, error) {
	if len(buckets) > stats.MaxActivityIntervals {
		return nil, fmt.Errorf("%w: %d intervals, at most %d", api.ErrInvalid, len(buckets), stats.MaxActivityIntervals)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		out  = map[vagt.DeviceID]uint64{}
		errs = make([]error, len(buckets))
		wg   sync.WaitGroup
		sem  = make(chan struct{}, stats.QueryConcurrency)
	)
	for i, b := range buckets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			bit := uint64(1) << i
			errs[i] = a.active(ctx, muns, b.Start, b.End, func(m map[vagt.DeviceID]bool) {
				mu.Lock()
				defer mu.Unlock()
				for d := range m {
					out[d] |= bit
				}
			})
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// active hands each part of the answer for [from, to) to add (the union of the parts is
// the devices that reported), once all parts are in: an error adds nothing.
func (a *Activity) active(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time, add func(map[vagt.DeviceID]bool)) error {
	if !from.Before(to) {
		return fmt.Errorf("%w: unbounded telemetry query", api.ErrInvalid)
	}
	loc := a.Location
	if loc == nil {
		loc = vagt.Copenhagen
	}
	first, last := ceilMidnight(from, loc), floorMidnight(to, loc)
	if !first.Before(last) {
		m, err := a.Flux.ActiveDevices(ctx, muns, from, to)
		if err == nil {
			add(m)
		}
		return err
	}
	lastDay := dayOf(last.Add(-time.Nanosecond), loc)
	done, err := a.Store.RolledUpDays(ctx, int(dayOf(first, loc)), int(lastDay))
	if err != nil {
		return err
	}
	var (
		rolled []int
		flux   []span
	)
	ask := func(f, t time.Time) { // merges with the span before when they touch
		if !f.Before(t) {
			return
		}
		if n := len(flux); n > 0 && flux[n-1].to.Equal(f) {
			flux[n-1].to = t
			return
		}
		flux = append(flux, span{f, t})
	}
	ask(from, first)
	for d := dayOf(first, loc); d <= lastDay; d = d.next(loc) {
		if _, ok := done[int(d)]; ok {
			rolled = append(rolled, int(d))
		} else {
			ask(d.start(loc), d.end(loc))
		}
	}
	ask(last, to)

	// The SQL store answers while InfluxDB does; the Flux spans go one after the other, so
	// a request keeps to stats.QueryConcurrency queries on InfluxDB at a time.
	var (
		wg     sync.WaitGroup
		sqlOut map[vagt.DeviceID]bool
		sqlErr error
	)
	wg.Go(func() { sqlOut, sqlErr = a.Store.ActiveInDays(ctx, muns, rolled) })
	parts := make([]map[vagt.DeviceID]bool, 0, len(flux)+1)
	var fluxErr error
	for _, s := range flux {
		m, err := a.Flux.ActiveDevices(ctx, muns, s.from, s.to)
		if err != nil {
			fluxErr = err
			break
		}
		parts = append(parts, m)
	}
	wg.Wait()
	if err := errors.Join(fluxErr, sqlErr); err != nil {
		return err
	}
	for _, m := range append(parts, sqlOut) {
		add(m)
	}
	return nil
}
