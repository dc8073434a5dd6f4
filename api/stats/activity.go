package stats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// activity asks the telemetry store, once per interval, which devices reported.
func (s *Service) activity(ctx context.Context, q Query) ([]map[vagt.DeviceID]bool, error) {
	if s.Telemetry == nil {
		return nil, api.ErrNoTelemetry
	}
	buckets := q.Period.Buckets()
	out := make([]map[vagt.DeviceID]bool, len(buckets))
	errs := make([]error, len(buckets))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A few intervals at a time: InfluxDB answers them in parallel, but one request must
	// not take every core it has.
	sem := make(chan struct{}, QueryConcurrency)
	var wg sync.WaitGroup
	for i, b := range buckets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], errs[i] = s.Telemetry.ActiveDevices(ctx, q.storeMuns(), b.Start, b.End)
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

// activityMasks is, beside each device, the intervals of q it reported in as bits
// (interval i: bit i), however many rows, totals and funnel stages then ask: one look-up
// per device when the source is an IntervalActivity, else one per device and interval.
func (s *Service) activityMasks(ctx context.Context, q Query, devices []DeviceFact) ([]uint64, error) {
	masks := make([]uint64, len(devices))
	if src, ok := s.Telemetry.(IntervalActivity); ok {
		buckets := q.Period.Buckets()
		if len(buckets) > MaxActivityIntervals {
			return nil, fmt.Errorf("%w: %d intervals, at most %d", api.ErrInvalid, len(buckets), MaxActivityIntervals)
		}
		active, err := src.ActiveInIntervals(ctx, q.storeMuns(), buckets)
		if err != nil {
			return nil, err
		}
		for k := range devices {
			masks[k] = active[devices[k].Device]
		}
		return masks, nil
	}
	active, err := s.activity(ctx, q)
	if err != nil {
		return nil, err
	}
	for k := range devices {
		for i := range active {
			if active[i][devices[k].Device] {
				masks[k] |= 1 << i
			}
		}
	}
	return masks, nil
}

// QueryConcurrency is how many interval queries one statistics request runs at once.
const QueryConcurrency = 2

// trackerActivity returns, per bucket, the GPS trackers active per municipality; nil maps
// when there is no tracker source or gps_tracker is not asked for.
func (s *Service) trackerActivity(ctx context.Context, q Query, buckets []Bucket) ([]map[vagt.MunicipalityCode]int, error) {
	out := make([]map[vagt.MunicipalityCode]int, len(buckets))
	if s.Trackers == nil || !slices.Contains(q.Technologies, vagt.TechGPSTracker) {
		return out, nil
	}
	for i, b := range buckets {
		m, err := s.Trackers.ActiveTrackers(ctx, q.storeMuns(), b.Start, b.End)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}
