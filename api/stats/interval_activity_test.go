package stats

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// intervalFacts is the test store with IntervalActivity, built from its ActiveDevices per
// bucket: what the interface promises.
type intervalFacts struct {
	*facts
	asked int
}

func (f *intervalFacts) ActiveInIntervals(ctx context.Context, muns []vagt.MunicipalityCode, buckets []Bucket) (map[vagt.DeviceID]uint64, error) {
	f.asked++
	out := map[vagt.DeviceID]uint64{}
	for i, b := range buckets {
		m, err := f.ActiveDevices(ctx, muns, b.Start, b.End)
		if err != nil {
			return nil, err
		}
		for d := range m {
			out[d] |= 1 << i
		}
	}
	return out, nil
}

// TestIntervalActivityGivesTheSameFigures: adoption, benefits and the comparison are the
// same whether the telemetry answers interval by interval or the whole period at once
// (IntervalActivity), on random registries; VAGT_STATS_SEED replays a run.
func TestIntervalActivityGivesTheSameFigures(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VAGT_STATS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (VAGT_STATS_SEED=%d replays it)", seed, seed)
	ctx := t.Context()
	for run := range 30 {
		r := rand.New(rand.NewPCG(seed, uint64(run)))
		f, muns, techs := wideRandomFacts(r)
		per := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
		once := &intervalFacts{facts: f}
		whole := &Service{Store: f, Telemetry: once, Model: DefaultBenefitModel()}
		iv := []Interval{Month, Quarter, Week}[r.IntN(3)]
		from, to := []string{"2025-10-01", "2025-12-15"}[r.IntN(2)], []string{"2026-03-20", "2026-06-01"}[r.IntN(2)]
		if iv == Week {
			from, to = "2026-01-01", "2026-04-01"
		}
		p, err := ParsePeriod(from, to, string(iv))
		if err != nil {
			t.Fatal(err)
		}
		q := Query{Period: p, Municipalities: muns, Technologies: techs, Suppress: r.IntN(2) == 0}
		same := func(what string, get func(*Service) (any, error)) {
			t.Helper()
			want, err := get(per)
			if err != nil {
				t.Fatal(err)
			}
			got, err := get(whole)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Fatalf("run %d, %s: whole period at once differs from interval by interval:\nonce: %s\nper:  %s", run, what, g, w)
			}
		}
		asked := once.asked
		same("adoption", func(s *Service) (any, error) { return s.Adoption(ctx, q) })
		same("benefits", func(s *Service) (any, error) { return s.Benefits(ctx, q) })
		same("comparison", func(s *Service) (any, error) {
			return s.Compare(ctx, CompareQuery{Period: p, Technologies: techs, Municipalities: muns, Suppress: q.Suppress})
		})
		if once.asked == asked {
			t.Fatalf("run %d: the whole-period activity was never asked", run)
		}
	}
}

// TestIntervalActivityErrors: the source's error is the answer's, and a period of more
// intervals than a bit mask holds is refused before the source is asked.
func TestIntervalActivityErrors(t *testing.T) {
	f := &failingIntervals{err: api.ErrNoTelemetry}
	svc := &Service{Store: &facts{}, Telemetry: f, Model: DefaultBenefitModel()}
	p, err := ParsePeriod("2026-01-01", "2026-04-01", "month")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Adoption(t.Context(), Query{Period: p, Municipalities: []vagt.MunicipalityCode{766}, Technologies: []vagt.Technology{vagt.TechGPSTracker}}); !errors.Is(err, api.ErrNoTelemetry) {
		t.Fatalf("adoption with failing telemetry: %v, want ErrNoTelemetry", err)
	}
	long := Period{From: p.From, To: p.From.AddDate(0, 0, 7*70), Interval: Week} // more weeks than ParsePeriod lets through
	f.asked = 0
	if _, err := svc.Adoption(t.Context(), Query{Period: long, Municipalities: []vagt.MunicipalityCode{766}, Technologies: []vagt.Technology{vagt.TechGPSTracker}}); !errors.Is(err, api.ErrInvalid) || f.asked != 0 {
		t.Fatalf("adoption over 70 weeks: %v (source asked %d times), want ErrInvalid and not asked", err, f.asked)
	}
}

type failingIntervals struct {
	facts
	err   error
	asked int
}

func (f *failingIntervals) ActiveInIntervals(context.Context, []vagt.MunicipalityCode, []Bucket) (map[vagt.DeviceID]uint64, error) {
	f.asked++
	return nil, f.err
}
