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

var _ stats.ActivitySource = (*Activity)(nil)

type span struct{ from, to time.Time }

// ActiveDevices implements stats.ActivitySource.
func (a *Activity) ActiveDevices(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.DeviceID]bool, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: unbounded telemetry query", api.ErrInvalid)
	}
	loc := a.Location
	if loc == nil {
		loc = vagt.Copenhagen
	}
	first, last := ceilMidnight(from, loc), floorMidnight(to, loc)
	if !first.Before(last) {
		return a.Flux.ActiveDevices(ctx, muns, from, to)
	}
	lastDay := dayOf(last.Add(-time.Nanosecond), loc)
	done, err := a.Store.RolledUpDays(ctx, int(dayOf(first, loc)), int(lastDay))
	if err != nil {
		return nil, err
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
	out := map[vagt.DeviceID]bool{}
	var fluxErr error
	for _, s := range flux {
		m, err := a.Flux.ActiveDevices(ctx, muns, s.from, s.to)
		if err != nil {
			fluxErr = err
			break
		}
		maps.Copy(out, m)
	}
	wg.Wait()
	if err := errors.Join(fluxErr, sqlErr); err != nil {
		return nil, err
	}
	maps.Copy(out, sqlOut)
	return out, nil
}
