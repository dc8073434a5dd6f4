package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/rollup"
)

// Readings around the change to summer time (2026-03-29 02:00 CET → 03:00 CEST, a day of
// 23 hours) and at local midnights, added to the statistics fixture.
const dstReadings = `reading,dev=md-5,gw=gw-5,kind=medication_taken,mun=766,tech=medicine_dispenser value=1 1774740600
reading,dev=md-2,gw=gw-2,kind=medication_taken,mun=766,tech=medicine_dispenser value=1 1774819800
reading,dev=md-8,gw=gw-8,kind=medication_taken,mun=766,tech=medicine_dispenser value=1 1774821600
reading,dev=md-7,gw=gw-7,kind=medication_taken,mun=615,tech=medicine_dispenser value=1 1774738799
`

func local(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02T15:04", s, vagt.Copenhagen)
	if err != nil {
		panic(err)
	}
	return t
}

func devs(m map[vagt.DeviceID]bool) string {
	return strings.Join(slices.Sorted(func(yield func(string) bool) {
		for d := range maps.Keys(m) {
			if !yield(string(d)) {
				return
			}
		}
	}), ",")
}

// deadTelemetry is an InfluxDB client for an address nothing listens on.
func deadTelemetry(t *testing.T) *influx.Telemetry {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tel, err := influx.NewTelemetry(influx.Config{URL: "http://" + addr, Bucket: "vagt/autogen", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tel.Close)
	return tel
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRollup: on the statistics fixture (plus readings around a DST change) the roll-up
// gives exactly the adoption figures of the pure Flux path, over UTC months (a partial
// local day at both ends of each), RFC 3339 edges and weeks; whole local days answer from
// the SQL store alone (InfluxDB down); a late reading for a rolled-up day shows once the
// re-roll has run; a run with InfluxDB down changes nothing, is counted and logged once;
// erasure and retention take the roll-up with them. Both SQL stores, real InfluxDB.
func TestRollup(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		f := newStatsFixture(t, dsn)
		writeLines(t, f.influx, dstReadings)
		queries := []struct{ user, q string }{
			{"mads", period + "&technology=medicine_dispenser,personal_alarm"},
			{"kl", period + "&technology=medicine_dispenser&municipality=615,766"},
			{"admin", "from=2026-01-01&to=2026-02-01&interval=quarter&technology=medicine_dispenser"},
			{"mads", "from=2026-01-05T10:00:00Z&to=2026-03-29T12:00:00Z&interval=month&technology=medicine_dispenser,personal_alarm"},
			{"mads", "from=2026-03-02&to=2026-04-06&interval=week&technology=medicine_dispenser"},
		}
		want := make([][]string, len(queries))
		for i, q := range queries {
			want[i] = adoptionLines(f.adoption(t, q.user, q.q))
		}

		job := &rollup.Job{Store: f.store, Telemetry: f.tel, Clock: f.clock, Policy: rollup.Policy{BackfillDays: 200, DaysPerRun: 400}}
		if r, err := job.Tick(ctx); err != nil || r.Rolled != 200 || r.Rerolled != 0 || r.Left != 0 {
			t.Fatalf("first run: %+v %v, want 200 days rolled up", r, err)
		}
		if r, err := job.Tick(ctx); err != nil || r != (rollup.Result{}) {
			t.Fatalf("second run at the same time: %+v %v, want nothing to do", r, err)
		}
		act := &rollup.Activity{Store: f.store, Flux: f.tel}
		f.svc.Telemetry = act
		for i, q := range queries {
			sameLines(t, "roll-up "+q.q, adoptionLines(f.adoption(t, q.user, q.q)), want[i])
		}

		// Exact device sets, the roll-up against Flux alone.
		for _, c := range []struct {
			name     string
			muns     []vagt.MunicipalityCode
			from, to time.Time
			want     string
		}{
			{"DST day, local", nil, local("2026-03-29T00:00"), local("2026-03-30T00:00"), "md-2,md-5"},
			{"DST day, UTC", nil, day("2026-03-28T23:00:00Z"), day("2026-03-29T22:00:00Z"), "md-2,md-5"},
			{"day after DST", nil, local("2026-03-30T00:00"), local("2026-03-31T00:00"), "md-8"},
			{"local March", nil, local("2026-03-01T00:00"), local("2026-04-01T00:00"), "env-1,md-1,md-2,md-3,md-5,md-7,md-8"},
			{"partial days at both ends", nil, day("2026-03-05T10:00:00Z"), day("2026-03-10T05:00:00Z"), "md-5,md-8"},
			{"edges on readings", nil, day("2026-03-28T22:59:59Z"), day("2026-03-29T21:30:00Z"), "md-5,md-7"},
			{"inside one day", nil, day("2026-03-05T07:00:00Z"), day("2026-03-05T09:00:00Z"), "md-1"},
			{"Horsens, half a year", []vagt.MunicipalityCode{615}, day("2025-10-01"), day("2026-04-15"), "md-7"},
			{"Hedensted, December", []vagt.MunicipalityCode{766}, day("2025-12-01"), day("2026-01-01"), "md-6"},
		} {
			fromFlux, err := f.tel.ActiveDevices(ctx, c.muns, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			got, err := act.ActiveDevices(ctx, c.muns, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			if devs(got) != c.want || devs(fromFlux) != c.want {
				t.Errorf("%s: roll-up %s, Flux %s, want %s", c.name, devs(got), devs(fromFlux), c.want)
			}
		}
		// Whole local days come from the roll-up alone: they answer with InfluxDB down,
		// a partial day does not.
		down := &rollup.Activity{Store: f.store, Flux: deadTelemetry(t)}
		if got, err := down.ActiveDevices(ctx, nil, local("2026-03-01T00:00"), local("2026-04-01T00:00")); err != nil || devs(got) != "env-1,md-1,md-2,md-3,md-5,md-7,md-8" {
			t.Errorf("whole days, InfluxDB down: %s %v", devs(got), err)
		}
		if _, err := down.ActiveDevices(ctx, nil, day("2026-03-01"), day("2026-04-01")); !errors.Is(err, api.ErrNoTelemetry) {
			t.Errorf("partial days, InfluxDB down: %v, want ErrNoTelemetry", err)
		}

		// A gateway delivers a reading late for a day already rolled up: the roll-up does
		// not know it until the day is rolled up again (once a day for RedoDays).
		apr10 := [2]time.Time{local("2026-04-10T00:00"), local("2026-04-11T00:00")}
		writeLines(t, f.influx, fmt.Sprintf("reading,dev=md-5,gw=gw-5,kind=medication_taken,mun=766,tech=medicine_dispenser value=1 %d\n", day("2026-04-10T10:00:00Z").Unix()))
		if got, _ := act.ActiveDevices(ctx, nil, apr10[0], apr10[1]); devs(got) != "" {
			t.Errorf("before the re-roll the roll-up answers %q, want the stale nothing", devs(got))
		}
		f.clock.Advance(25 * time.Hour)
		if r, err := job.Tick(ctx); err != nil || r.Rerolled != 6 || r.Rolled != 1 {
			t.Fatalf("a day later: %+v %v, want 6 re-rolled (04-09..04-14), 1 rolled (04-15)", r, err)
		}
		if got, _ := act.ActiveDevices(ctx, nil, apr10[0], apr10[1]); devs(got) != "md-5" {
			t.Errorf("after the re-roll: %q, want md-5", devs(got))
		}

		// InfluxDB down during a run: nothing changes, the failure is counted, logged once.
		before, _ := f.store.RolledUpDays(ctx, 20250101, 20261231)
		var logs syncBuffer
		f.clock.Advance(48 * time.Hour)
		downJob := &rollup.Job{Store: f.store, Telemetry: deadTelemetry(t), Clock: f.clock, Policy: rollup.Policy{Every: 5 * time.Millisecond, BackfillDays: 200},
			Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		if _, err := downJob.Tick(ctx); !errors.Is(err, api.ErrNoTelemetry) {
			t.Errorf("a run with InfluxDB down: %v, want ErrNoTelemetry", err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- downJob.Run(runCtx) }()
		for downJob.Failures() < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if n := strings.Count(logs.String(), "rollup: run failed"); n != 1 {
			t.Errorf("%d failures logged %d times, want once:\n%s", downJob.Failures(), n, logs.String())
		}
		if after, _ := f.store.RolledUpDays(ctx, 20250101, 20261231); !maps.Equal(before, after) {
			t.Errorf("a failed run changed the rolled-up days: %d → %d", len(before), len(after))
		}

		testRollupErasure(t, f, act)
		testRollupRetention(t, f, act)
	})
}

// testRollupErasure: erasing C1 takes gw-1's roll-up with its telemetry (the figures are
// those of Flux after the erasure: md-1's activity is gone), and a roll-up that read
// InfluxDB before the erasure does not write gw-1 back.
func testRollupErasure(t *testing.T, f *statsFixture, act *rollup.Activity) {
	ctx := t.Context()
	mark, err := f.store.ActivityMark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.must(t, 200, "admin", "DELETE", fmt.Sprintf("/api/v1/citizens/%d", f.cit["C1"]), "")
	q := "from=2026-01-01&to=2026-02-01&technology=medicine_dispenser"
	viaRollup := adoptionLines(f.adoption(t, "mads", q))
	f.svc.Telemetry = f.tel
	sameLines(t, "after erasure", viaRollup, adoptionLines(f.adoption(t, "mads", q)))
	f.svc.Telemetry = act
	if r := f.adoption(t, "mads", q).Rows[0]; *r.Citizens != 5 || *r.DevicesActive != 3 {
		t.Errorf("after erasure: citizens %d, active %d; want 5, 3", *r.Citizens, *r.DevicesActive)
	}
	db := openRaw(t, f.dsn)
	gw1 := func() int {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM device_activity WHERE gateway_id = 'gw-1'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := gw1(); n != 0 {
		t.Errorf("gw-1 has %d roll-up rows after the erasure", n)
	}
	// A roll-up that asked InfluxDB before the erasure writes its day after it.
	late := []rollup.Reporter{{Municipality: 766, Gateway: "gw-1", Device: "md-1"}, {Municipality: 766, Gateway: "gw-2", Device: "md-2"}}
	if err := f.store.ReplaceActivityDay(ctx, 20260120, late, mark, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := gw1(); n != 0 {
		t.Errorf("a roll-up racing the erasure wrote %d rows of gw-1 back", n)
	}
	if got, _ := act.ActiveDevices(ctx, nil, local("2026-01-20T00:00"), local("2026-01-21T00:00")); devs(got) != "md-2" {
		t.Errorf("the racing day: %q, want md-2", devs(got))
	}
}

// testRollupRetention: a municipality's retention forgets its roll-up before the horizon,
// the day the horizon falls in included, and nobody else's.
func testRollupRetention(t *testing.T, f *statsFixture, act *rollup.Activity) {
	ctx := t.Context()
	if err := (rollup.Retention{Store: f.store}).ForgetBefore(ctx, 766, day("2026-03-05T12:00:00Z")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		from, to time.Time
		want     string
	}{
		{"Hedensted and Horsens, local February", local("2026-02-01T00:00"), local("2026-03-01T00:00"), "md-7"},
		{"the horizon's day", local("2026-03-05T00:00"), local("2026-03-06T00:00"), ""},
		{"after the horizon", local("2026-03-06T00:00"), local("2026-03-08T00:00"), "md-5,md-8"},
	} {
		if got, err := act.ActiveDevices(ctx, nil, c.from, c.to); err != nil || devs(got) != c.want {
			t.Errorf("after retention, %s: %q %v, want %q", c.name, devs(got), err, c.want)
		}
	}
}
