package stats

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

// SuppressBelow is the smallest number of citizens a figure may describe when small counts
// are suppressed (the national role): 1-4 become null.
const SuppressBelow = 5

// ChurnWindow is how soon after installation a removal counts as churn ("given up").
const ChurnWindow = 90 * 24 * time.Hour

// FactStore is what statistics read from the SQL store.
type FactStore interface {
	DeviceFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]registry.DeviceFact, error)
	CitizenFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]registry.CitizenFact, error)
	AlertFacts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) ([]registry.AlertFact, error)
}

// ActivitySource tells which devices reported in a time range (InfluxDB).
type ActivitySource interface {
	ActiveDevices(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.DeviceID]bool, error)
}

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

// AdoptionRow is one municipality × technology × interval. Counts are nil when suppressed.
type AdoptionRow struct {
	Municipality     vagt.MunicipalityCode `json:"municipality"`
	MunicipalityName string                `json:"municipality_name"`
	Region           vagt.Region           `json:"region"`
	Technology       vagt.Technology       `json:"technology"`
	Start            time.Time             `json:"interval_start"`
	End              time.Time             `json:"interval_end"`
	Citizens         *int                  `json:"citizens"`
	CitizensActive   *int                  `json:"citizens_active"`
	DevicesInstalled *int                  `json:"devices_installed"`
	DevicesActive    *int                  `json:"devices_active"`
	NewInstallations *int                  `json:"new_installations"`
	Removals         *int                  `json:"removals"`
	Churn            *int                  `json:"churn_90d"`
	Per1000          *float64              `json:"citizens_per_1000_65plus"`
	Suppressed       bool                  `json:"suppressed"`
}

// FunnelRow is the rollout funnel of a municipality × technology over the period.
type FunnelRow struct {
	Municipality   vagt.MunicipalityCode `json:"municipality"`
	Technology     vagt.Technology       `json:"technology"`
	Registered     *int                  `json:"registered"`
	Installed      *int                  `json:"installed"`
	Active         *int                  `json:"active"`
	StillActive90d *int                  `json:"still_active_90d"`
	Suppressed     bool                  `json:"suppressed"`
}

// Adoption is the answer of GET /stats/adoption.
type Adoption struct {
	Period          Period     `json:"period"`
	SuppressedBelow int        `json:"suppressed_below,omitempty"`
	Disclosure      Disclosure `json:"disclosure"`
	// Population65 says where the denominator of citizens_per_1000_65plus comes from.
	Population65 PopulationInfo `json:"population_65plus"`
	Rows         []AdoptionRow  `json:"rows"`
	Funnel       []FunnelRow    `json:"funnel"`
}

type cell struct {
	m vagt.MunicipalityCode
	t vagt.Technology
}

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

// QueryConcurrency is how many interval queries one statistics request runs at once.
const QueryConcurrency = 2

// Adoption counts adoption per municipality × technology × interval, and the funnel.
func (s *Service) Adoption(ctx context.Context, q Query) (Adoption, error) {
	p := q.Period
	pop := s.population()
	res := Adoption{Period: p, Disclosure: q.disclosure(), Population65: pop.Info(), Rows: []AdoptionRow{}, Funnel: []FunnelRow{}}
	if q.Suppress {
		res.SuppressedBelow = SuppressBelow
	}
	devices, err := s.Store.DeviceFacts(ctx, q.storeMuns(), p.To)
	if err != nil {
		return res, err
	}
	citizens, err := s.Store.CitizenFacts(ctx, q.storeMuns(), p.To)
	if err != nil {
		return res, err
	}
	active, err := s.activity(ctx, q)
	if err != nil {
		return res, err
	}
	byCell := map[cell][]registry.DeviceFact{}
	for _, d := range devices {
		byCell[cell{d.Municipality, d.Technology}] = append(byCell[cell{d.Municipality, d.Technology}], d)
	}
	// Registered (the funnel's first stage): the citizens registered before the end, and
	// every citizen who got any technology before it (see funnel).
	registered := map[vagt.MunicipalityCode]set{}
	register := func(m vagt.MunicipalityCode, id int64) {
		if registered[m] == nil {
			registered[m] = set{}
		}
		registered[m].add(id)
	}
	for _, c := range citizens {
		register(c.Municipality, c.ID)
	}
	for _, d := range devices {
		register(d.Municipality, d.Citizen)
	}
	buckets := p.Buckets()
	trackers, err := s.trackerActivity(ctx, q, buckets)
	if err != nil {
		return res, err
	}
	names := municipalityInfo()
	for _, m := range q.Municipalities {
		info := names[m]
		for _, tech := range q.Technologies {
			ds := byCell[cell{m, tech}]
			for i, b := range buckets {
				row := AdoptionRow{Municipality: m, MunicipalityName: info.Name, Region: info.Region, Technology: tech, Start: b.Start, End: b.End}
				var (
					citz, citzActive, citzNew, citzRemoved, citzChurn = set{}, set{}, set{}, set{}, set{}
					installed, act, added, removed, churn             int
				)
				for _, d := range ds {
					in := d.InstalledAt.Before(b.End) && (d.RemovedAt == nil || !d.RemovedAt.Before(b.End))
					if in {
						installed++
						citz.add(d.Citizen)
					}
					if active[i][d.Device] {
						act++
						citzActive.add(d.Citizen)
					}
					if !d.InstalledAt.Before(b.Start) && d.InstalledAt.Before(b.End) {
						added++
						citzNew.add(d.Citizen)
					}
					if d.RemovedAt != nil && !d.RemovedAt.Before(b.Start) && d.RemovedAt.Before(b.End) {
						removed++
						citzRemoved.add(d.Citizen)
						if d.RemovedAt.Sub(d.InstalledAt) < ChurnWindow {
							churn++
							citzChurn.add(d.Citizen)
						}
					}
				}
				// Each count is shown only if the citizens behind it are not 1-4, and then as
				// released (rounded when protected).
				put := func(dst **int, n, citizens int) {
					if q.Suppress && anySmall(citizens) {
						row.Suppressed = true
						return
					}
					*dst = ptr(q.released(n))
				}
				put(&row.Citizens, len(citz), len(citz))
				put(&row.DevicesInstalled, installed, len(citz))
				actCitizens := len(citzActive)
				if n := trackers[i][m]; tech == vagt.TechGPSTracker && n > actCitizens {
					actCitizens, act = n, max(act, n) // one tracker, one citizen
				}
				put(&row.CitizensActive, actCitizens, actCitizens)
				put(&row.DevicesActive, act, actCitizens)
				put(&row.NewInstallations, added, len(citzNew))
				put(&row.Removals, removed, len(citzRemoved))
				put(&row.Churn, churn, len(citzChurn))
				if n := pop.Of(m); n > 0 && row.Citizens != nil {
					row.Per1000 = ptr(round(float64(*row.Citizens)*1000/float64(n), 3))
				}
				res.Rows = append(res.Rows, row)
			}
			res.Funnel = append(res.Funnel, funnel(q, m, tech, ds, registered[m], active, buckets))
		}
	}
	return res, nil
}

// funnel counts nested sets of citizens, so it is monotone by construction: registered ⊇
// installed ⊇ active ⊇ still active. A citizen who got the technology is registered, even
// when the registry record was typed in after a back-dated installation (its
// registered_at is when the record was made): counting only registered_at < end drew
// "registered 0" above "installed 3" (issue 7).
func funnel(q Query, m vagt.MunicipalityCode, tech vagt.Technology, ds []registry.DeviceFact, registered set, active []map[vagt.DeviceID]bool, buckets []Bucket) FunnelRow {
	to := q.Period.To
	installed, act, still := set{}, set{}, set{}
	last := len(buckets) - 1
	for _, d := range ds {
		installed.add(d.Citizen)
		for i := range buckets {
			if active[i][d.Device] {
				act.add(d.Citizen)
				break
			}
		}
		if !d.InstalledAt.After(to.Add(-ChurnWindow)) && (d.RemovedAt == nil || !d.RemovedAt.Before(to)) && last >= 0 && active[last][d.Device] {
			still.add(d.Citizen)
		}
	}
	f := FunnelRow{Municipality: m, Technology: tech}
	put := func(dst **int, n int) {
		if q.Suppress && n > 0 && n < SuppressBelow {
			f.Suppressed = true
			return
		}
		*dst = ptr(q.released(n))
	}
	put(&f.Registered, len(registered)) // ⊇ installed: Adoption adds every citizen with a device
	put(&f.Installed, len(installed))
	put(&f.Active, len(act))
	put(&f.StillActive90d, len(still))
	return f
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
