package stats

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// nationalFacts is a national registry in memory: in each of the 98 municipalities 12 % of
// the citizens aged 65+ (the shipped table: 138,000 citizens) have 1-3 of the 10
// technologies, installed over 2024-2026, 10 % removed again; 90 % of the devices report;
// 0.2 alarms per citizen per month. The store's reads are slices already in memory and the
// activity a precomputed set, so this measures the statistics' computation, not SQL or the
// roll-up (docs/measurements.md has those figures).
type nationalFacts struct {
	byMun    map[vagt.MunicipalityCode][]DeviceFact
	citizens map[vagt.MunicipalityCode][]CitizenFact
	alerts   map[vagt.MunicipalityCode][]AlertRecord
	strs     []string // the alerts' strings (AlertRecords)
	active   map[vagt.DeviceID]bool
	masks    map[int]map[vagt.DeviceID]uint64 // ActiveInIntervals by number of buckets
	devices  int
}

func newNationalFacts() *nationalFacts {
	r := rand.New(rand.NewPCG(18, 98))
	f := &nationalFacts{byMun: map[vagt.MunicipalityCode][]DeviceFact{}, citizens: map[vagt.MunicipalityCode][]CitizenFact{},
		alerts: map[vagt.MunicipalityCode][]AlertRecord{}, active: map[vagt.DeviceID]bool{}}
	strs := NewAlertRecordsBuilder(0)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, vagt.Copenhagen)
	span := int64(3 * 365 * 24 * time.Hour)
	var id int64
	for _, m := range vagt.Municipalities() {
		n := Population65(m.Code) * 12 / 100
		for range n {
			id++
			reg := start.Add(time.Duration(r.Int64N(span)))
			f.citizens[m.Code] = append(f.citizens[m.Code], CitizenFact{ID: id, Municipality: m.Code, RegisteredAt: reg})
			for _, tech := range r.Perm(10)[:1+r.IntN(3)] {
				d := DeviceFact{Device: vagt.DeviceID(fmt.Sprintf("d-%d-%d", id, tech)), Municipality: m.Code,
					Technology: vagt.Technology(tech + 1), Citizen: id, InstalledAt: reg.Add(time.Duration(r.IntN(60*24)) * time.Hour)}
				if r.IntN(10) == 0 {
					rm := d.InstalledAt.Add(time.Duration(r.IntN(400*24)) * time.Hour)
					d.RemovedAt = &rm
				}
				if r.IntN(10) > 0 {
					f.active[d.Device] = true
				}
				f.byMun[m.Code] = append(f.byMun[m.Code], d)
				f.devices++
			}
		}
		for range n * 2 * 24 / 10 { // 0.2 a citizen a month over two years
			raised := time.Date(2024, 10, 1, 0, 0, 0, 0, vagt.Copenhagen).Add(time.Duration(r.Int64N(int64(2 * 365 * 24 * time.Hour))))
			ack := raised.Add(time.Duration(10+r.IntN(300)) * time.Second)
			a := AlertFact{Municipality: m.Code, Type: 1, Priority: vagt.PriorityHigh, RaisedAt: raised, AckedAt: &ack}
			strs.Add(&a)
		}
	}
	// The alerts kept as a SQL store scans them (AlertRecords), by municipality.
	rs := strs.Records()
	for _, r := range rs.Records {
		f.alerts[r.Municipality] = append(f.alerts[r.Municipality], r)
	}
	f.strs = rs.Strings
	return f
}

// pick copies the facts a store would return into one slice of their size: a store hands
// out a fresh slice, but growing it by doubling (and the garbage that leaves) is not the
// statistics' cost.
func pick[T any](by map[vagt.MunicipalityCode][]T, muns []vagt.MunicipalityCode, keep func(T) bool) []T {
	n := 0
	for m, xs := range by {
		if len(muns) == 0 || slices.Contains(muns, m) {
			n += len(xs)
		}
	}
	out := make([]T, 0, n)
	for m, xs := range by {
		if len(muns) > 0 && !slices.Contains(muns, m) {
			continue
		}
		for _, x := range xs {
			if keep(x) {
				out = append(out, x)
			}
		}
	}
	return out
}

func (f *nationalFacts) DeviceFacts(_ context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]DeviceFact, error) {
	return pick(f.byMun, muns, func(d DeviceFact) bool { return d.InstalledAt.Before(before) }), nil
}

func (f *nationalFacts) CitizenFacts(_ context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]CitizenFact, error) {
	return pick(f.citizens, muns, func(c CitizenFact) bool { return c.RegisteredAt.Before(before) }), nil
}

func (f *nationalFacts) AlertRecords(_ context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (AlertRecords, error) {
	lo, hi := from.UnixNano(), to.UnixNano()
	return AlertRecords{Records: pick(f.alerts, muns, func(a AlertRecord) bool { return a.RaisedAt >= lo && a.RaisedAt < hi }), Strings: f.strs}, nil
}

// AlertFacts are the same alerts as facts (the statistics ask AlertRecords).
func (f *nationalFacts) AlertFacts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) ([]AlertFact, error) {
	rs, err := f.AlertRecords(ctx, muns, from, to)
	out := make([]AlertFact, len(rs.Records))
	for k := range out {
		out[k] = rs.Fact(k)
	}
	return out, err
}

func (f *nationalFacts) ActiveDevices(context.Context, []vagt.MunicipalityCode, time.Time, time.Time) (map[vagt.DeviceID]bool, error) {
	return f.active, nil
}

// ActiveInIntervals is the same activity a period at once (IntervalActivity, as
// rollup.Activity answers): every reporting device in every bucket. Like ActiveDevices it
// is precomputed (per number of buckets, before the timing), so the benchmark measures the
// statistics, not the source.
func (f *nationalFacts) ActiveInIntervals(_ context.Context, _ []vagt.MunicipalityCode, buckets []Bucket) (map[vagt.DeviceID]uint64, error) {
	if m, ok := f.masks[len(buckets)]; ok {
		return m, nil
	}
	m := make(map[vagt.DeviceID]uint64, len(f.active))
	for d := range f.active {
		m[d] = 1<<len(buckets) - 1
	}
	if f.masks == nil {
		f.masks = map[int]map[vagt.DeviceID]uint64{}
	}
	f.masks[len(buckets)] = m
	return m, nil
}

// BenchmarkNational: all 98 municipalities × 10 technologies × 8 quarters, as the national
// role asks them (protected), for each statistic and the comparison; p50 and p99 of the
// iterations are reported (issue 18 item 5: p99 ≤ 1 s).
//
//	go test -run '^$' -bench National -benchtime 20x ./api/stats/
func BenchmarkNational(b *testing.B) {
	f := newNationalFacts()
	svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
	p, err := ParsePeriod("2024-10-01", "2026-10-01", "quarter")
	if err != nil {
		b.Fatal(err)
	}
	var techs []vagt.Technology
	for _, t := range vagt.Technologies() {
		techs = append(techs, t.Technology)
	}
	q := Query{Period: p, Municipalities: allMunicipalities(), All: true, Technologies: techs, Suppress: true}
	b.Logf("%d citizens, %d devices, %d quarters", len(pick(f.citizens, nil, func(CitizenFact) bool { return true })), f.devices, len(p.Buckets()))
	ctx := context.Background()
	for _, n := range []int{len(p.Buckets()), 1} { // the statistics' and the comparison's (whole period)
		if _, err := f.ActiveInIntervals(ctx, nil, make([]Bucket, n)); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"adoption", func() error { _, err := svc.Adoption(ctx, q); return err }},
		{"alerts", func() error { _, err := svc.Alerts(ctx, q); return err }},
		{"benefits", func() error { _, err := svc.Benefits(ctx, q); return err }},
		{"compare_national", func() error {
			_, err := svc.Compare(ctx, CompareQuery{Period: p, Technologies: techs, Municipalities: q.Municipalities, All: true, Suppress: true})
			return err
		}},
		{"compare_manager", func() error {
			_, err := svc.Compare(ctx, CompareQuery{Period: p, Technologies: techs, Own: 766})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			// Wall time and the process's CPU time (user + system, GC included) per request:
			// on a machine shared by many, the wall time measures the others' load too.
			var took, cpu []float64
			for b.Loop() {
				t0, c0 := time.Now(), cpuTime()
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
				took, cpu = append(took, time.Since(t0).Seconds()), append(cpu, cpuTime()-c0)
			}
			at := func(xs []float64, p float64) float64 {
				sort.Float64s(xs)
				return xs[min(len(xs)-1, int(p*float64(len(xs))))]
			}
			b.ReportMetric(at(took, 0.5), "p50-s")
			b.ReportMetric(at(took, 0.99), "p99-s")
			b.ReportMetric(at(cpu, 0.5), "cpu-p50-s")
			b.ReportMetric(at(cpu, 0.99), "cpu-p99-s")
		})
	}
}

// cpuTime is the process's user and system CPU time in seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
