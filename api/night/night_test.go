package night_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/api/stats"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// write puts readings into InfluxDB the way ingest does (measurement reading, tags mun gw
// dev kind tech, field value).
func write(t *testing.T, db localstack.InfluxTarget, gw vagt.GatewayID, lines ...string) {
	t.Helper()
	c := influxdb2.NewClient(db.URL, db.Token)
	defer c.Close()
	var lp []string
	for _, l := range lines {
		// "dev kind tech value at"
		f := strings.Fields(l)
		at, err := time.Parse(time.RFC3339, f[4])
		if err != nil {
			t.Fatal(err)
		}
		lp = append(lp, fmt.Sprintf("reading,dev=%s,gw=%s,kind=%s,mun=766,tech=%s value=%s %d", f[0], gw, f[1], f[2], f[3], at.UnixNano()))
	}
	if err := c.WriteAPIBlocking(db.Org, db.Bucket).WriteRecord(t.Context(), lp...); err != nil {
		t.Fatal(err)
	}
}

// TestNightSupervision on SQLite and PostgreSQL with a real InfluxDB: a night plan that
// asks for a state no device of the home reports is refused naming the field; the board
// at 23:05 Danish time shows the 23:00 check due and green from the sensors (in bed
// since, door, temperature, motion), red once the door opens; "checked, all well" is
// recorded with the state seen and audited; "visit needed" raises a night_visit alert
// that escalates; the 05:00 check not made by 05:30 raises night_check_missed once;
// InfluxDB down makes the board say unknown, never green; the counts feed the statistics.
func TestNightSupervision(t *testing.T) {
	influxDB := stacktest.SharedInfluxDB(t)
	for name, dsn := range map[string]func() string{
		"sqlite":   func() string { return filepath.Join(t.TempDir(), "vagt.db") },
		"postgres": func() string { return stacktest.SharedPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			store, err := sqlstore.Open(ctx, dsn(), sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			district, err := store.CreateDistrict(ctx, 766, "Nat-"+name)
			if err != nil {
				t.Fatal(err)
			}
			home, gw := vagt.HomeID("home-night-"+name), vagt.GatewayID("gw-night-"+name)
			bed, door, env := vagt.DeviceID("bed-"+name), vagt.DeviceID("door-"+name), vagt.DeviceID("env-"+name)
			if err := errors.Join(store.CreateHome(ctx, home, district, 0), store.RegisterGateway(ctx, gw, home),
				store.RegisterDevice(ctx, bed, gw, vagt.TechBedSensor, "bed"),
				store.RegisterDevice(ctx, door, gw, vagt.TechDoorSensor, "front door"),
				store.RegisterDevice(ctx, env, gw, vagt.TechEnvironmentSensor, "bedroom")); err != nil {
				t.Fatal(err)
			}
			// 21:00 UTC on 1 December is 22:00 in Copenhagen.
			clock := api.NewManualClock(time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC))
			plans := careplan.NewService(store, careplan.Options{Clock: clock})
			devices := fmt.Sprintf(`[{"device":%q,"technology":"bed_sensor","zigbee":"bed"},{"device":%q,"technology":"door_sensor","zigbee":"door"},
				{"device":%q,"technology":"environment_sensor","zigbee":"env"}]`, bed, door, env)
			put := func(nightChecks string) error {
				s, err := careplan.ParseSettings([]byte(`{"devices":` + devices + `,"rules":{},"night_checks":` + nightChecks + `}`))
				if err == nil {
					_, err = plans.Update(ctx, api.Scope{All: true}, home, s, 0, "anna")
				}
				return err
			}
			// Bad input: a state the home cannot report, and a malformed plan, each refused
			// with the field; nothing stored.
			for plan, field := range map[string]string{
				`{"times":["23:00"],"good":{"no_water":true}}`:                    "night_checks.good.no_water",
				`{"times":["23:00","25:00"],"good":{"in_bed":true}}`:              "night_checks.times[1]",
				`{"times":["23:00"],"window":"5h","good":{"in_bed":true}}`:        "night_checks.window",
				`{"times":["23:00"],"window":"30","good":{"in_bed":true}}`:        "night_checks.window",
				`{"times":["23:00"],"good":{}}`:                                   "night_checks.good",
				`{"times":["23:00"],"good":{"temperature":{"min":25,"max":18}}}`:  "night_checks.good.temperature",
				`{"times":["23:00"],"good":{"in_bed":true,"motion_within":"1m"}}`: "night_checks.good.motion_within",
				`{"times":["23:00"],"good":{"in_bed":true},"surprise":1}`:         "night_checks.surprise",
			} {
				var fe *api.FieldError
				if err := put(plan); !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, api.ErrInvalid) {
					t.Errorf("%s: %v, want a field error on %s", plan, err, field)
				}
			}
			// The reason says why: no device of the home reports the state, and which would.
			if err := put(`{"times":["23:00"],"good":{"no_water":true}}`); err == nil ||
				!strings.Contains(err.Error(), "no device in the home can report it") || !strings.Contains(err.Error(), vagt.TechWaterAlarm.String()) {
				t.Errorf("a state no device can report: %v, want the reason naming the technology that would", err)
			}
			if v, err := plans.View(ctx, api.Scope{All: true}, home); err != nil || v.Version != 0 {
				t.Fatalf("a refused plan was stored: version %d %v", v.Version, err)
			}
			if err := put(`{"times":["23:00","02:00","05:00"],"window":"30m","good":{"in_bed":true,"door_closed":true,
				"temperature":{"min":18,"max":26},"motion_within":"3h"}}`); err != nil {
				t.Fatal(err)
			}
			if err := store.RecordStatus(ctx, &vagt.Status{Gateway: gw, Online: true, Time: clock.Now(), Heartbeat: time.Minute}, clock.Now()); err != nil {
				t.Fatal(err)
			}

			db := influxDB
			if name == "postgres" {
				db = stacktest.SharedInfluxDB(t) // a database of its own
			}
			write(t, db, gw,
				string(bed)+" bed_occupied bed_sensor 0 2026-12-01T20:00:00Z",
				string(bed)+" bed_occupied bed_sensor 1 2026-12-01T21:20:00Z",
				string(bed)+" bed_occupied bed_sensor 1 2026-12-01T21:50:00Z",
				string(door)+" door_open door_sensor 1 2026-12-01T20:10:00Z",
				string(door)+" door_open door_sensor 0 2026-12-01T20:11:00Z",
				string(env)+" temperature environment_sensor 21.5 2026-12-01T21:55:00Z",
				string(env)+" motion environment_sensor 1 2026-12-01T21:15:00Z",
				string(env)+" motion environment_sensor 0 2026-12-01T21:16:00Z",
			)
			tel, err := influx.NewNight(db.URL, db.Org, db.Bucket, db.Token, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer tel.Close()
			svc := &night.Service{Store: store, Sensors: tel, Clock: clock}
			staff := api.Scope{Municipality: 766, Districts: []int64{district}}

			clock.Advance(65 * time.Minute) // 23:05 in Copenhagen
			b, err := svc.Board(ctx, staff)
			if err != nil || len(b.Homes) != 1 {
				t.Fatalf("board: %+v %v", b, err)
			}
			h := b.Homes[0]
			due := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
			if h.Status != night.StatusDue || h.DueAt == nil || !h.DueAt.Equal(due) || h.Grade != night.Green || b.Telemetry != night.TelemetryOK {
				t.Fatalf("board home at 23:05: %+v", h)
			}
			st := h.State
			if st.InBed == nil || !*st.InBed || st.InBedSince == nil || !st.InBedSince.Equal(time.Date(2026, 12, 1, 21, 20, 0, 0, time.UTC)) ||
				st.DoorOpen == nil || *st.DoorOpen || st.Temperature == nil || *st.Temperature != 21.5 ||
				st.LastMotion == nil || !st.LastMotion.Equal(time.Date(2026, 12, 1, 21, 15, 0, 0, time.UTC)) || st.GatewayOnline == nil || !*st.GatewayOnline {
				t.Errorf("state at 23:05: %+v", st)
			}
			if other, err := svc.Board(ctx, api.Scope{Municipality: 766, Districts: []int64{district + 1000}}); err != nil || len(other.Homes) != 0 {
				t.Errorf("another district's board: %+v %v", other, err)
			}

			// The front door opens: red, naming the door.
			write(t, db, gw, string(door)+" door_open door_sensor 1 2026-12-01T22:04:00Z")
			if b, _ = svc.Board(ctx, staff); b.Homes[0].Grade != night.Red || !strings.Contains(fmt.Sprint(b.Homes[0].Findings), "door") {
				t.Errorf("board with the door open: %+v", b.Homes[0])
			}
			write(t, db, gw, string(door)+" door_open door_sensor 0 2026-12-01T22:05:00Z")

			// Bad decisions change nothing.
			for _, d := range []struct {
				d     night.Decision
				field string
			}{
				{night.Decision{DueAt: due, Decision: "maybe"}, "decision"},
				{night.Decision{DueAt: due.Add(time.Minute), Decision: "all_well"}, "due_at"},
				{night.Decision{DueAt: due.Add(24 * time.Hour), Decision: "all_well"}, "due_at"},
			} {
				var fe *night.InvalidField
				if _, err := svc.Record(ctx, staff, home, "anna", d.d); !errors.As(err, &fe) || fe.Field != d.field || !errors.Is(err, api.ErrInvalid) {
					t.Errorf("%+v: %v, want invalid %s", d.d, err, d.field)
				}
			}
			if _, err := svc.Record(ctx, api.Scope{Municipality: 101}, home, "eve", night.Decision{DueAt: due, Decision: "all_well"}); !errors.Is(err, api.ErrNotFound) {
				t.Errorf("a check by another municipality: %v", err)
			}

			c, err := svc.Record(ctx, staff, home, "anna", night.Decision{DueAt: due, Decision: "all_well"})
			if err != nil || c.Decision != "all_well" || c.Grade != "green" || c.By != "anna" || c.AlertID != nil ||
				!strings.Contains(string(c.State), `"in_bed":true`) {
				t.Fatalf("all well: %+v %v", c, err)
			}
			if _, err := svc.Record(ctx, staff, home, "bo", night.Decision{DueAt: due, Decision: "visit"}); !errors.Is(err, api.ErrConflict) {
				t.Errorf("a second check of the same time: %v", err)
			}
			if b, _ = svc.Board(ctx, staff); b.Homes[0].Status != night.StatusDone {
				t.Errorf("board after the check: %+v", b.Homes[0])
			}

			// 02:10: the 02:00 check; no motion since 22:15 Danish time — red; a visit.
			clock.Advance(3*time.Hour + 5*time.Minute)
			due2 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
			if b, _ = svc.Board(ctx, staff); b.Homes[0].Status != night.StatusDue || !b.Homes[0].DueAt.Equal(due2) || b.Homes[0].Grade != night.Red {
				t.Errorf("board at 02:10: %+v", b.Homes[0])
			}
			c, err = svc.Record(ctx, staff, home, "anna", night.Decision{DueAt: due2, Decision: "visit", Note: "no movement"})
			if err != nil || c.AlertID == nil || c.Grade != "red" {
				t.Fatalf("visit: %+v %v", c, err)
			}
			a, err := store.AlertDetail(ctx, *c.AlertID, staff, clock.Now())
			if err != nil || a.Type != vagt.AlarmNightVisit || a.Home != home || a.District != district || a.EscalateAt == nil ||
				a.Details["night_check"] != fmt.Sprint(c.ID) || !strings.Contains(a.Details["findings"], "motion") {
				t.Errorf("the visit's alert: %+v %v", a, err)
			}

			// 05:31: the 05:00 check was not made in its window: one alert, once.
			clock.Advance(3*time.Hour + 21*time.Minute)
			if n, err := svc.Sweep(ctx); err != nil || n != 1 {
				t.Fatalf("sweep: %d %v", n, err)
			}
			if n, err := svc.Sweep(ctx); err != nil || n != 0 {
				t.Errorf("second sweep: %d %v", n, err)
			}
			list, err := store.ListAlerts(ctx, staff, alerts.Filter{})
			missed := 0
			for _, a := range list {
				if a.Type == vagt.AlarmNightCheckMissed {
					missed++
					if a.EscalateAt == nil {
						t.Errorf("missed-check alert without escalation: %+v", a)
					}
				}
			}
			if err != nil || missed != 1 {
				t.Errorf("missed-check alerts: %d %v", missed, err)
			}
			due3 := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
			if b, _ = svc.Board(ctx, staff); b.Homes[0].Status != night.StatusDone {
				t.Errorf("board after the sweep: %+v", b.Homes[0])
			}
			// Made late, the check takes the missed record's place and keeps the mark.
			c, err = svc.Record(ctx, staff, home, "bo", night.Decision{DueAt: due3, Decision: "all_well"})
			if err != nil || !c.Missed || c.MissedAlertID == nil || c.By != "bo" {
				t.Errorf("late check: %+v %v", c, err)
			}

			checks, err := svc.Checks(ctx, staff, home, due.Add(-time.Hour), due3.Add(time.Hour))
			if err != nil || len(checks) != 3 || checks[0].DueAt.Equal(due3) != true || checks[2].By != "anna" {
				t.Errorf("checks: %+v %v", checks, err)
			}
			log, err := store.AuditLog(ctx, api.Scope{All: true}, "home/"+string(home), 0, 20)
			actions := map[string]int{}
			for _, e := range log {
				actions[e.Action]++
			}
			if err != nil || actions["night.check"] != 3 || actions["night.missed"] != 1 {
				t.Errorf("audit: %v %v", actions, err)
			}
			counts, err := night.Counts{Store: store}.NightCounts(ctx, []vagt.MunicipalityCode{766}, due.Add(-time.Hour), due3.Add(time.Hour))
			if got := counts[766]; err != nil || got.Remote != 2 || got.Visits != 1 || got.Missed != 1 {
				t.Errorf("counts: %+v %v", got, err)
			}

			// The statistics: remote checks are visits avoided, valued with the model.
			statsTel, err := influx.NewTelemetry(influx.Config{URL: db.URL, Org: db.Org, Bucket: db.Bucket, Token: db.Token})
			if err != nil {
				t.Fatal(err)
			}
			defer statsTel.Close()
			ss := &stats.Service{Store: store, Telemetry: statsTel, Model: stats.DefaultBenefitModel(), Night: night.Counts{Store: store}}
			period, err := stats.ParsePeriod("2026-12-01", "2027-01-01", "month")
			if err != nil {
				t.Fatal(err)
			}
			q := stats.Query{Period: period, Municipalities: []vagt.MunicipalityCode{766}, Technologies: []vagt.Technology{vagt.TechNightSupervision}}
			ns, err := ss.NightChecks(ctx, q)
			if err != nil || len(ns.Rows) != 1 || *ns.Rows[0].ChecksRemote != 2 || *ns.Rows[0].ChecksVisit != 1 || *ns.Rows[0].ChecksMissed != 1 ||
				*ns.Rows[0].VisitsAvoided != 2 || *ns.Rows[0].HoursSaved != 0.27 || *ns.Rows[0].GrossDKK != 133.33 || ns.Model.MinutesPerVisit != 8 {
				t.Errorf("night statistics: %+v %v", ns, err)
			}
			var csv strings.Builder
			if err := stats.WriteNightCSV(&csv, ns); err != nil || !strings.Contains(csv.String(), ",2,1,1,2,0.27,133.33,8,500,false,1\n") {
				t.Errorf("night csv: %q %v", csv.String(), err)
			}
			bf, err := ss.Benefits(ctx, q)
			if err != nil || len(bf.Rows) != 1 || bf.Rows[0].VisitsAvoidedFrom != "night_checks" || bf.Rows[0].VisitsAvoided == nil ||
				*bf.Rows[0].VisitsAvoided != 2 || *bf.Rows[0].GrossDKK != 133.33 {
				t.Errorf("benefit row night_supervision: %+v %v", bf.Rows, err)
			}

			// InfluxDB not answering: the board says unknown and nothing is green.
			down, _ := influx.NewNight("http://127.0.0.1:1", "vagt", "x/autogen", "", time.Second)
			defer down.Close()
			svcDown := &night.Service{Store: store, Sensors: down, Clock: clock}
			if b, err = svcDown.Board(ctx, staff); err != nil || b.Telemetry != night.TelemetryUnavailable || b.Homes[0].Grade != night.Amber ||
				b.Homes[0].State.InBed != nil {
				t.Errorf("board with InfluxDB down: %+v %v", b, err)
			}
			js, _ := json.Marshal(b)
			if strings.Contains(string(js), `"grade":"green"`) {
				t.Errorf("green shown with InfluxDB down: %s", js)
			}
		})
	}
}
