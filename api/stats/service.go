package stats

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/vagt-dk/vagt"
)

// SuppressBelow is the smallest number of citizens a figure may describe when small counts
// are suppressed (the national role): 1-4 become null.
const SuppressBelow = 5

// ChurnWindow is how soon after installation a removal counts as churn ("given up").
const ChurnWindow = 90 * 24 * time.Hour

// FactStore is what statistics read from the SQL store.
type FactStore interface {
	DeviceFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]DeviceFact, error)
	CitizenFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]CitizenFact, error)
	AlertFacts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) ([]AlertFact, error)
}

// AlertRecordSource is a FactStore that also gives AlertFacts in the shape without
// pointers (AlertRecords; api/sqlstore scans its rows straight into it): a
// national request then neither allocates nor reads nor has the garbage collector scan
// 660,000 facts' pointers. The alert statistics read every store so (alertRecords).
type AlertRecordSource interface {
	AlertRecords(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (AlertRecords, error)
}

// alertRecords are the alerts of store raised in [from, to) in muns (none: all), as
// records: the store's own when it is an AlertRecordSource, else its AlertFacts converted.
func alertRecords(ctx context.Context, store FactStore, muns []vagt.MunicipalityCode, from, to time.Time) (AlertRecords, error) {
	if src, ok := store.(AlertRecordSource); ok {
		return src.AlertRecords(ctx, muns, from, to)
	}
	facts, err := store.AlertFacts(ctx, muns, from, to)
	if err != nil {
		return AlertRecords{}, err
	}
	return AlertRecordsOf(facts), nil
}

// ActivitySource tells which devices reported in a time range (InfluxDB).
type ActivitySource interface {
	ActiveDevices(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.DeviceID]bool, error)
}

// IntervalActivity is an ActivitySource that answers a whole period at once: each device
// that reported in any of the buckets (in order, at most 64), with bit i set when it
// reported in buckets[i] (ActiveDevices of that bucket). The statistics then look each
// device up once instead of once per interval (a national request: 276,000 devices × 8
// quarters); a source builds the answer as it would build its per-interval sets.
// rollup.Activity has it; a source without it is asked interval by interval.
type IntervalActivity interface {
	ActiveInIntervals(ctx context.Context, muns []vagt.MunicipalityCode, buckets []Bucket) (map[vagt.DeviceID]uint64, error)
}

// MaxActivityIntervals is how many buckets one IntervalActivity answer can mark.
const MaxActivityIntervals = 64

// TrackerActivity counts, per municipality, the GPS trackers that sent a position on a
// day in [from, to) (api/sqlstore; positions never reach InfluxDB).
type TrackerActivity interface {
	ActiveTrackers(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.MunicipalityCode]int, error)
}

// Service computes the statistics.
type Service struct {
	Store     FactStore
	Telemetry ActivitySource // nil: statistics that need telemetry answer ErrNoTelemetry
	// Trackers, when set, makes gps_tracker's active counts what the platform recorded
	// (trackers that reported), not only registry devices seen in telemetry.
	Trackers TrackerActivity
	Model    BenefitModel
	// Population gives the citizens aged 65+ per municipality; nil: the shipped,
	// illustrative table (DefaultPopulation).
	Population *Population
	Logger     *slog.Logger
	// Night counts the recorded night checks; nil: the night_supervision benefit row
	// falls back to the model's visits per citizen and week (docs/night-supervision.md).
	Night NightSource
}

func (s *Service) population() *Population {
	if s.Population == nil {
		return DefaultPopulation()
	}
	return s.Population
}

// Query is a validated request: a period, the municipalities (All: every one of the 98,
// which spares the telemetry query a filter), technologies, and whether small counts
// are suppressed.
type Query struct {
	Period         Period
	Municipalities []vagt.MunicipalityCode
	All            bool
	Technologies   []vagt.Technology
	Suppress       bool
}

func (q Query) storeMuns() []vagt.MunicipalityCode {
	if q.All {
		return nil
	}
	return q.Municipalities
}

// set counts distinct citizens; 0 (a home without a citizen) is not one.
type set map[int64]struct{}

func (s set) add(id int64) {
	if id != 0 {
		s[id] = struct{}{}
	}
}

func anySmall(ns ...int) bool {
	for _, n := range ns {
		if n > 0 && n < SuppressBelow {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func municipalityInfo() map[vagt.MunicipalityCode]vagt.Municipality {
	out := map[vagt.MunicipalityCode]vagt.Municipality{}
	for _, m := range vagt.Municipalities() {
		out[m.Code] = m
	}
	return out
}
