package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/api/stats"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

// BenchmarkAdoption measures GET /stats/adoption with a registry of 2,000 homes × 10
// devices (500 homes in Hedensted, the rest spread over the other 97 municipalities) and
// 30 days of telemetry, VAGT_BENCH_PER_DAY readings per device per day (default 24; the
// issue's 1,440 = 864 M points does not fit this machine). Sub-benchmarks: one
// municipality over one year by month, all 98 over one quarter by month. It reports p50
// and p99 of the response time. Run:
//
//	VAGT_BENCH_STATS=1 VAGT_REQUIRE_SERVICES=1 go test -run XXX -bench Adoption -benchtime 20x ./api/httpapi/
func BenchmarkAdoption(b *testing.B) {
	if os.Getenv("VAGT_BENCH_STATS") == "" {
		b.Skip("set VAGT_BENCH_STATS=1: loading the telemetry takes minutes")
	}
	perDay := 24
	if v, err := strconv.Atoi(os.Getenv("VAGT_BENCH_PER_DAY")); err == nil && v > 0 {
		perDay = v
	}
	ctx := b.Context()
	target := stacktest.SharedInfluxDB(b)
	store, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, stats.Danish) // the period's to, a Danish date
	start := end.AddDate(0, 0, -30)
	muns := vagt.Municipalities()
	districts := map[vagt.MunicipalityCode]int64{}
	for _, m := range muns {
		if districts[m.Code], err = store.CreateDistrict(ctx, m.Code, "Bench"); err != nil {
			b.Fatal(err)
		}
	}
	type dev struct {
		id, gw string
		mun    vagt.MunicipalityCode
		tech   vagt.Technology
	}
	var devs []dev
	want766 := 0 // devices of Hedensted registered before the end (the period's to)
	t0 := time.Now()
	for h := range 2000 {
		m := vagt.MunicipalityCode(766)
		if h >= 500 {
			if m = muns[h%len(muns)].Code; m == 766 {
				m = 101
			}
		}
		c, err := store.RegisterCitizen(ctx, registry.Citizen{Municipality: m, Name: fmt.Sprint("c", h)}, "bench", end.AddDate(-1, 0, 0))
		if err != nil {
			b.Fatal(err)
		}
		home, gw := vagt.HomeID(fmt.Sprintf("home-%04d", h)), vagt.GatewayID(fmt.Sprintf("gw-%04d", h))
		if _, err := store.AddHome(ctx, registry.Home{ID: home, District: districts[m], Citizen: c.ID}); err != nil {
			b.Fatal(err)
		}
		if err := store.ProvisionGateway(ctx, gw, home, "x", "bench", end); err != nil {
			b.Fatal(err)
		}
		for i := range 10 {
			d := dev{fmt.Sprintf("d-%04d-%d", h, i), string(gw), m, vagt.Technology(i + 1)}
			installed := end.AddDate(0, 0, -((h*7 + i*31) % 400))
			if m == 766 && installed.Before(end) {
				want766++
			}
			if _, err := store.InstallDevice(ctx, registry.Device{ID: vagt.DeviceID(d.id), Gateway: gw, Technology: d.tech, InstalledAt: &installed}, "bench", end); err != nil {
				b.Fatal(err)
			}
			devs = append(devs, d)
		}
	}
	b.Logf("registry: 2000 homes, %d devices in %s", len(devs), time.Since(t0).Round(time.Second))

	t0 = time.Now()
	step := 24 * time.Hour / time.Duration(perDay)
	var buf bytes.Buffer
	points := 0
	flush := func() {
		resp, err := http.Post(target.URL+"/write?precision=s&db="+target.Database, "text/plain", &buf)
		if err != nil || resp.StatusCode != 204 {
			b.Fatalf("write: %v %v", err, resp)
		}
		resp.Body.Close()
		buf.Reset()
	}
	for ts := start; ts.Before(end); ts = ts.Add(step) {
		for i, d := range devs {
			at := ts.Add(time.Duration(i%60) * time.Second).Unix()
			fmt.Fprintf(&buf, "reading,dev=%s,gw=%s,kind=temperature,mun=%d,tech=%s value=21 %d\n", d.id, d.gw, d.mun, d.tech, at)
			points++
			if buf.Len() > 4<<20 {
				flush()
			}
		}
	}
	flush()
	b.Logf("telemetry: %d points (%d devices × %d/day × 30 days) in %s", points, len(devs), perDay, time.Since(t0).Round(time.Second))

	tel, err := stats.NewTelemetry(stats.InfluxConfig{URL: target.URL, Bucket: target.Bucket, Token: target.Token, Timeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Close()
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}),
		Clock: alerts.NewManualClock(end), Registry: store, Stats: &stats.Service{Store: store, Telemetry: tel, Model: stats.DefaultBenefitModel()}}))
	defer srv.Close()
	tokens := map[auth.Role]string{}
	for _, p := range []auth.Principal{{Name: "mads", Role: auth.RoleManager, Municipality: 766}, {Name: "kl", Role: auth.RoleNational}} {
		tok, hash, _ := auth.NewToken()
		if _, err := store.IssueToken(ctx, p, hash, nil, end); err != nil {
			b.Fatal(err)
		}
		tokens[p.Role] = tok
	}
	for _, c := range []struct {
		name, query string
		role        auth.Role
		active      int
	}{
		{"one_municipality_year", "from=2025-12-01&to=2026-12-01&interval=month", auth.RoleManager, want766},
		{"98_municipalities_quarter", "from=2026-09-01&to=2026-12-01&interval=month", auth.RoleNational, -1},
	} {
		b.Run(c.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				req, _ := http.NewRequest("GET", srv.URL+"/api/v1/stats/adoption?"+c.query, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[c.role])
				t0 := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var body bytes.Buffer
				_, _ = body.ReadFrom(resp.Body)
				resp.Body.Close()
				times = append(times, time.Since(t0))
				var a stats.Adoption
				if resp.StatusCode != 200 || json.Unmarshal(body.Bytes(), &a) != nil {
					b.Fatalf("%d %.300s", resp.StatusCode, body.String())
				}
				// The last month has telemetry for every device there: an empty answer
				// would be fast and wrong.
				active := 0
				for _, r := range a.Rows {
					if r.Start.Month() == 11 && r.DevicesActive != nil {
						active += *r.DevicesActive
					}
				}
				if (c.active >= 0 && active != c.active) || active == 0 {
					b.Fatalf("devices active in November: %d, want %d", active, c.active)
				}
			}
			slices.Sort(times)
			p := func(q float64) time.Duration { return times[min(len(times)-1, int(q*float64(len(times))))] }
			b.ReportMetric(float64(p(0.50).Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99_ms")
		})
	}
}
