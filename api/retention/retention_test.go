package retention_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/retention"
	"github.com/vagt-dk/vagt/api/rollup"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

var t0 = time.Date(2016, 3, 1, 10, 0, 0, 0, time.UTC)

func count(t *testing.T, target localstack.InfluxTarget, where string) int {
	t.Helper()
	q := url.Values{"db": {target.Database}, "q": {`SELECT COUNT("value") FROM "reading" WHERE ` + where}}
	resp, err := http.Get(target.URL + "/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct{ Series []struct{ Values [][]any } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) == 0 || len(out.Results[0].Series) == 0 {
		return 0
	}
	return int(out.Results[0].Series[0].Values[0][1].(float64))
}

// TestRetention: resolved alerts past the keeping period lose who acted, notes, details and
// home, once; open and recent ones are untouched; a municipality with a shorter telemetry
// retention loses its older points, and only those. The clock is injected.
func TestRetention(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d, _ := store.CreateDistrict(ctx, 766, "Nord")
	c, _ := store.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen"})
	if err := store.CreateHome(ctx, "home-1", d, c); err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterGateway(ctx, "gw-1", "home-1"); err != nil {
		t.Fatal(err)
	}
	all := api.Scope{All: true}
	raise := func(seq uint64, at time.Time, resolve bool) int64 {
		r, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-1", Seq: seq, Municipality: 766, Time: at, Device: vagt.DeviceID(fmt.Sprint("d", seq)), Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.AddNote(ctx, r.Alert.ID, "anna", all, "Karen fell", at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if resolve {
			if _, err := store.Resolve(ctx, r.Alert.ID, "anna", all, alerts.OutcomeVisitedHelpGiven, "", at.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		return r.Alert.ID
	}
	old := raise(1, t0, true)
	oldOpen := raise(2, t0, false)
	recent := raise(3, t0.AddDate(8, 0, 0), true)

	target := stacktest.SharedInfluxDB(t)
	now := t0.AddDate(10, 0, 1)
	var lp strings.Builder
	for _, p := range []struct {
		mun  int
		days int
	}{{766, 40}, {766, 10}, {615, 40}} {
		fmt.Fprintf(&lp, "reading,dev=d,gw=gw-%d,kind=temperature,mun=%d,tech=environment_sensor value=20 %d\n", p.mun, p.mun, now.AddDate(0, 0, -p.days).Unix())
	}
	resp, err := http.Post(target.URL+"/write?precision=s&db="+target.Database, "text/plain", strings.NewReader(lp.String()))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("write: %v %v", err, resp)
	}
	resp.Body.Close()
	tel, err := influx.NewTelemetry(influx.Config{URL: target.URL, Bucket: target.Bucket, Token: target.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	if err := store.SetTelemetryRetention(ctx, 766, 30); err != nil {
		t.Fatal(err)
	}

	// The daily roll-up has the three readings' days (2026-01-21 and 2026-02-20 local).
	roll := &rollup.Job{Store: store, Telemetry: tel, Clock: api.NewManualClock(now), Policy: rollup.Policy{BackfillDays: 45, DaysPerRun: 45}}
	if r, err := roll.Tick(ctx); err != nil || r.Rolled != 45 {
		t.Fatalf("roll-up: %+v %v", r, err)
	}
	rolledUp := func(m vagt.MunicipalityCode, day int) int {
		got, err := store.ActiveInDays(ctx, []vagt.MunicipalityCode{m}, []int{day})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if got := fmt.Sprint(rolledUp(766, 20260121), rolledUp(766, 20260220), rolledUp(615, 20260121)); got != "1 1 1" {
		t.Fatalf("rolled up before retention: %s", got)
	}

	job := &retention.Job{Store: store, Telemetry: tel, Activity: rollup.Retention{Store: store}, Clock: api.NewManualClock(now),
		Policy: retention.Policy{KeepAlerts: 10 * 365 * 24 * time.Hour}}
	r, err := job.Tick(ctx)
	if err != nil || r.AlertsAnonymised != 1 || r.Municipalities != 1 {
		t.Fatalf("tick: %+v %v", r, err)
	}
	for _, c := range []struct {
		id         int64
		anonymised bool
	}{{old, true}, {oldOpen, false}, {recent, false}} {
		det, err := store.AlertDetail(ctx, c.id, api.Scope{All: true}, now)
		if err != nil {
			t.Fatal(err)
		}
		gone := len(det.Notes) == 0 && det.AckedBy == "" && det.Home == "" && det.Citizen == nil
		if gone != c.anonymised {
			t.Errorf("alert %d: anonymised %v, want %v (%+v)", c.id, gone, c.anonymised, det)
		}
		if det.Type != vagt.AlarmPanic || det.RaisedAt.IsZero() {
			t.Errorf("alert %d lost what statistics count: %+v", c.id, det.Alert)
		}
	}
	if got := fmt.Sprint(count(t, target, `"mun" = '766'`), count(t, target, `"mun" = '615'`)); got != "1 1" {
		t.Errorf("readings of 766 and 615 after retention: %s, want 1 1", got)
	}
	if got := fmt.Sprint(rolledUp(766, 20260121), rolledUp(766, 20260220), rolledUp(615, 20260121)); got != "0 1 1" {
		t.Errorf("roll-up of 766's old day, its recent day, 615's old day after retention: %s, want 0 1 1", got)
	}
	if r, err := job.Tick(ctx); err != nil || r.AlertsAnonymised != 0 {
		t.Errorf("second tick: %+v %v", r, err)
	}
}
