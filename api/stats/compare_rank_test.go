package stats

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestRankRowsRankAsTheNationalView: a manager's rank and distribution, from rankRows
// (adoption only), are those the whole national view (compareRows) gives, on random
// registries; VAGT_STATS_SEED replays a run.
func TestRankRowsRankAsTheNationalView(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VAGT_STATS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (VAGT_STATS_SEED=%d replays it)", seed, seed)
	ctx := t.Context()
	for run := range 20 {
		r := rand.New(rand.NewPCG(seed, uint64(run)))
		f, muns, techs := wideRandomFacts(r)
		svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
		p, err := ParsePeriod("2025-12-15", "2026-04-01", "month")
		if err != nil {
			t.Fatal(err)
		}
		p.Interval = Whole
		q := Query{Period: p, Municipalities: allMunicipalities(), All: true, Technologies: techs, Suppress: true}
		full, err := svc.compareRows(ctx, q, "municipality")
		if err != nil {
			t.Fatal(err)
		}
		light, err := svc.rankRows(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, own := range muns {
			rows := func() []CompareRow {
				var out []CompareRow
				for _, r := range full.rows {
					if r.Municipality == own {
						out = append(out, r)
					}
				}
				return out
			}
			a, b := rows(), rows()
			rank(a, full.rows)
			rank(b, light.rows)
			sameJSON(t, run, "rank", a, b)
		}
		sameJSON(t, run, "distribution", distribution(techs, full.rows), distribution(techs, light.rows))
		if len(distribution(techs, full.rows)) == 0 {
			t.Fatalf("run %d: no distribution compared", run)
		}
	}
}

func sameJSON(t *testing.T, run int, what string, want, got any) {
	t.Helper()
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(got)
	if string(w) != string(g) {
		t.Fatalf("run %d, %s: from rankRows %s, from the national view %s", run, what, g, w)
	}
}
