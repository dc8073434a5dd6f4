package careplan_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

var known = map[vagt.DeviceID]vagt.Technology{"0x0d": vagt.TechDoorSensor, "bed-1": vagt.TechBedSensor, "disp-1": vagt.TechMedicineDispenser}

func settings(t *testing.T, js string) careplan.Settings {
	t.Helper()
	var s careplan.Settings
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCheck: invalid settings name their field; valid ones become a configuration the
// gateway accepts, with the defaults of the home's technologies filled in.
func TestCheck(t *testing.T) {
	for js, field := range map[string]string{
		`{"devices":[],"rules":{"night":"22:00"}}`:                                                                                                     "rules.night",
		`{"devices":[],"rules":{"day":"07:00-24:00"}}`:                                                                                                 "rules.day",
		`{"devices":[],"rules":{"inactivity":"30m"}}`:                                                                                                  "rules.inactivity",
		`{"devices":[],"rules":{"inactivity":"4h","day":""}}`:                                                                                          "rules.day",
		`{"devices":[],"rules":{"low_battery":90}}`:                                                                                                    "rules.low_battery",
		`{"devices":[],"rules":{"medication":[{"dose":9,"window":"08:00-09:00"}]}}`:                                                                    "rules.medication[0].dose",
		`{"devices":[],"rules":{"medication":[{"dose":1,"window":"08:00-09:00"},{"dose":1,"window":"10:00-11:00"}]}}`:                                  "rules.medication[1].dose",
		`{"devices":[],"rules":{"medication":[{"dose":1,"window":"06:00-18:00"}]}}`:                                                                    "rules.medication[0].window",
		`{"devices":[{"device":"0x0d","technology":"door_sensor"},{"device":"0x0d","technology":"door_sensor"}],"rules":{}}`:                           "devices[1].device",
		`{"devices":[{"device":"0x0d","technology":"door_sensor","zigbee":"a"},{"device":"bed-1","technology":"bed_sensor","zigbee":"a"}],"rules":{}}`: "devices[1].zigbee",
		`{"devices":[{"device":"0x0d","technology":"door_sensor","report_every":"10s"}],"rules":{}}`:                                                   "devices[0].report_every",
		`{"devices":[{"device":"0x0d","technology":"door_sensor","fields":{"contact":"no_such_kind"}}],"rules":{}}`:                                    "",
		`{"time_zone":"Local","devices":[],"rules":{}}`:                                                                                                "time_zone",
	} {
		var s careplan.Settings
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			if field != "" {
				t.Errorf("%s: %v", js, err)
			}
			continue // an unknown kind is a JSON error (400 bad_json) before any check
		}
		_, _, err := careplan.Check(s, known, "gw-1", 766, 1)
		var fe *api.FieldError
		if !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: %v, want a field error on %s", js, err, field)
		}
	}

	s := settings(t, `{"devices":[{"device":"0x0d","technology":"door_sensor","zigbee":"front_door"},
		{"device":"bed-1","technology":"bed_sensor","zigbee":"bed"},{"device":"disp-1","technology":"medicine_dispenser"}],
		"rules":{"night":"21:30-06:30","bed_exit":"15m"}}`)
	eff, c, err := careplan.Check(s, known, "gw-1", 766, 7)
	if err != nil {
		t.Fatal(err)
	}
	data, err := vagt.EncodeConfig(&c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := vagt.DecodeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	r := back.Rules
	if back.Version != 7 || back.Gateway != "gw-1" || r.Night != (vagt.Window{From: 21*60 + 30, To: 6*60 + 30}) || r.BedExit != 15*time.Minute ||
		!r.DoorAtNight || len(r.Medication) != 4 || r.LowBattery != 20 || len(back.Devices) != 3 || back.Devices[0].Zigbee != "front_door" {
		t.Fatalf("config %+v", back)
	}
	if *eff.Rules.Day != "07:00-22:00" || eff.TimeZone != vagt.DefaultTimeZone {
		t.Fatalf("effective %+v", eff)
	}
}

// TestParseSettings: a value that does not decode names its field.
func TestParseSettings(t *testing.T) {
	for js, field := range map[string]string{
		`{"devices":[],"rules":{"inactivity":4}}`:                                        "rules.inactivity",
		`{"devices":[],"rules":{"door_at_night":"yes"}}`:                                 "rules.door_at_night",
		`{"devices":[{"device":"0x0d","technology":"door_sensor","report_every":"1x"}]}`: "devices[0].report_every",
		`{"devices":[{"device":"0x0d","technology":"door_sensor","colour":"red"}]}`:      "devices[0].colour",
		`{"devices":[],"rules":{}} {}`:                                                   "body",
		`[1]`:                                                                            "body",
	} {
		_, err := careplan.ParseSettings([]byte(js))
		var fe *api.FieldError
		if !errors.As(err, &fe) || fe.Field != field || fe.Reason == "" {
			t.Errorf("%s: %v, want a field error on %s", js, err, field)
		}
	}
	if s, err := careplan.ParseSettings([]byte(`{"devices":[],"rules":{"bed_exit":"20m"}}`)); err != nil || time.Duration(*s.Rules.BedExit) != 20*time.Minute {
		t.Fatalf("%+v %v", s, err)
	}
}

// TestNightAcrossDST: a 22-07 night is 10 h on the night clocks go back and 8 h on the
// night they go forward, in the home's zone (the gateway reads windows with
// vagt.Window.Bounds / Contains in local time).
func TestNightAcrossDST(t *testing.T) {
	_, c, err := careplan.Check(settings(t, `{"devices":[],"rules":{"night":"22:00-07:00"}}`), known, "gw-1", 766, 1)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := c.Location()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		evening time.Time
		hours   float64
	}{
		{time.Date(2026, 10, 24, 23, 0, 0, 0, loc), 10},
		{time.Date(2026, 3, 28, 23, 0, 0, 0, loc), 8},
		{time.Date(2026, 6, 1, 23, 0, 0, 0, loc), 9},
	} {
		from, to := c.Rules.Night.Bounds(tc.evening)
		if h := to.Sub(from).Hours(); h != tc.hours {
			t.Errorf("night of %s: %v h, want %v", tc.evening.Format("2006-01-02"), h, tc.hours)
		}
		if !c.Rules.Night.Contains(to.Add(-time.Minute).In(loc)) || c.Rules.Night.Contains(to.In(loc)) {
			t.Errorf("night of %s ends at %s", tc.evening.Format("2006-01-02"), to)
		}
	}
}

// fakePublisher records what is published; failing makes it refuse.
type fakePublisher struct {
	mu      sync.Mutex
	sent    []vagt.HomeConfig
	failing bool
}

func (p *fakePublisher) Publish(_ context.Context, topic string, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing {
		return errors.New("broker away")
	}
	c, err := vagt.DecodeConfig(payload)
	if err != nil || topic != vagt.Topic(c.Gateway, vagt.LaneConfig) {
		return errors.New("bad publish")
	}
	p.sent = append(p.sent, c)
	return nil
}

func (p *fakePublisher) versions() []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var v []uint64
	for _, c := range p.sent {
		v = append(v, c.Version)
	}
	return v
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, 30*time.Second, cond)
}

// TestPush on SQLite and PostgreSQL: a change is published; a broker that refuses is
// retried; a gateway that comes online with an older version gets the current one again
// (once Republish has passed); one that runs it gets nothing; history names the fields.
func TestPush(t *testing.T) {
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
			district, err := store.CreateDistrict(ctx, 766, "Nord-"+name)
			if err != nil {
				t.Fatal(err)
			}
			home, gw := vagt.HomeID("home-push-"+name), vagt.GatewayID("gw-push-"+name)
			if err := errors.Join(store.CreateHome(ctx, home, district, 0), store.RegisterGateway(ctx, gw, home),
				store.RegisterDevice(ctx, "door-"+vagt.DeviceID(name), gw, vagt.TechDoorSensor, "front door")); err != nil {
				t.Fatal(err)
			}
			clock := api.NewManualClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
			pub := &fakePublisher{failing: true}
			svc := careplan.NewService(store, careplan.Options{Publisher: pub, Clock: clock, Republish: time.Hour, Retry: 10 * time.Millisecond})
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- svc.Run(runCtx) }()
			defer func() { cancel(); <-done }()

			body := `{"devices":[{"device":"door-` + name + `","technology":"door_sensor","zigbee":"front_door"}],"rules":{}}`
			v, err := svc.Update(ctx, api.Scope{All: true}, home, settings(t, body), 0, "anna")
			if err != nil || v.Version != 1 || v.State != careplan.StatePending {
				t.Fatalf("update: %+v %v", v, err)
			}
			if _, err := svc.Update(ctx, api.Scope{All: true}, home, settings(t, body), 7, "bo"); !errors.Is(err, api.ErrConflict) {
				t.Fatalf("a change on a stale version: %v", err)
			}
			time.Sleep(50 * time.Millisecond) // a few refused attempts
			pub.mu.Lock()
			pub.failing = false
			pub.mu.Unlock()
			waitFor(t, "version 1 published once the broker takes it", func() bool {
				v, err := svc.View(ctx, api.Scope{All: true}, home)
				return err == nil && v.Gateways[0].Published == 1
			})
			if !slices.Equal(pub.versions(), []uint64{1}) {
				t.Fatalf("published %v", pub.versions())
			}

			status := func(applied uint64, refused string) {
				t.Helper()
				if err := svc.Status(ctx, &vagt.Status{Gateway: gw, Online: true, ConfigVersion: applied, ConfigError: refused}); err != nil {
					t.Fatal(err)
				}
			}
			status(0, "") // online with its file's configuration, just after the publish: wait
			time.Sleep(50 * time.Millisecond)
			if n := len(pub.versions()); n != 1 {
				t.Fatalf("republished at once: %v", pub.versions())
			}
			clock.Advance(2 * time.Hour) // still on the old one an hour later: the retained copy was lost
			status(0, "")
			waitFor(t, "version 1 again", func() bool { return slices.Equal(pub.versions(), []uint64{1, 1}) })
			status(1, "")
			if v, _ := svc.View(ctx, api.Scope{All: true}, home); v.State != careplan.StateLatest || v.Gateways[0].Applied != 1 {
				t.Fatalf("view %+v", v)
			}
			clock.Advance(2 * time.Hour)
			status(1, "")

			if _, err := svc.Update(ctx, api.Scope{All: true}, home, settings(t, `{"devices":[{"device":"door-`+name+`","technology":"door_sensor","zigbee":"front_door"}],"rules":{"night":"21:00-07:00"}}`), 1, "bo"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "version 2 published", func() bool { return slices.Equal(pub.versions(), []uint64{1, 1, 2}) })
			status(1, "decode config: too large")
			if v, _ := svc.View(ctx, api.Scope{All: true}, home); v.State != careplan.StateRefused || v.Gateways[0].Reason != "decode config: too large" {
				t.Fatalf("view after a refusal %+v", v)
			}
			if o, err := svc.Overview(ctx, api.Scope{Municipality: 766, Districts: []int64{district}}, 0); err != nil || len(o) != 1 || o[0].Home != home || o[0].State != careplan.StateRefused || o[0].Version != 2 {
				t.Fatalf("overview %+v %v", o, err)
			}
			if o, err := svc.Overview(ctx, api.Scope{Municipality: 766, Districts: []int64{district + 1000}}, 0); err != nil || len(o) != 0 {
				t.Fatalf("overview of another district %+v %v", o, err)
			}
			h, err := svc.History(ctx, api.Scope{All: true}, home, 0)
			if err != nil || len(h) != 2 || h[0].ChangedBy != "bo" || !slices.Equal(h[0].Changed, []string{"rules.night"}) || h[1].Version != 1 {
				t.Fatalf("history %+v %v", h, err)
			}

			// A gateway that runs a higher version than its home's (moved from another home,
			// a restored backup) would ignore the home's: the plan is saved again above it.
			status(50, "")
			waitFor(t, "version 51 published", func() bool { return slices.Contains(pub.versions(), 51) })
			if v, _ := svc.View(ctx, api.Scope{All: true}, home); v.Version != 51 || v.ChangedBy != api.System || *v.Effective.Rules.Night != "21:00-07:00" {
				t.Fatalf("after renumbering %+v", v)
			}
		})
	}
}

// TestDropsNeedConfirmation on SQLite and PostgreSQL (issue 22 item 1): a plan that leaves
// out registered devices, or switches off what an unswitchable alarm needs, is refused
// naming the field and the confirmation (a mistyped confirmation confirms nothing); a
// confirmed plan is saved, its confirmation audited and kept with the plan, so a later
// change need not repeat it; the overview counts the devices each home's plan covers.
func TestDropsNeedConfirmation(t *testing.T) {
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
			district, err := store.CreateDistrict(ctx, 766, "Syd-"+name)
			if err != nil {
				t.Fatal(err)
			}
			home, gw, bare := vagt.HomeID("home-drop-"+name), vagt.GatewayID("gw-drop-"+name), vagt.HomeID("home-bare-"+name)
			door, pendant, leak := vagt.DeviceID("door-"+name), vagt.DeviceID("bu-"+name), vagt.DeviceID("leak-"+name)
			if err := errors.Join(store.CreateHome(ctx, home, district, 0), store.RegisterGateway(ctx, gw, home),
				store.RegisterDevice(ctx, door, gw, vagt.TechDoorSensor, "front door"),
				store.RegisterDevice(ctx, pendant, gw, vagt.TechPersonalAlarm, "pendant"),
				store.RegisterDevice(ctx, leak, gw, vagt.TechWaterAlarm, "bathroom"),
				store.CreateHome(ctx, bare, district, 0), store.RegisterGateway(ctx, "gw-bare-"+vagt.GatewayID(name), bare),
				store.RegisterDevice(ctx, "bare-door-"+vagt.DeviceID(name), "gw-bare-"+vagt.GatewayID(name), vagt.TechDoorSensor, "door")); err != nil {
				t.Fatal(err)
			}
			svc := careplan.NewService(store, careplan.Options{})
			all := `{"device":"` + string(door) + `","technology":"door_sensor","zigbee":"front_door"},
				{"device":"` + string(pendant) + `","technology":"personal_alarm"},
				{"device":"` + string(leak) + `","technology":"water_alarm","zigbee":"leak"}`
			for _, tc := range []struct{ body, field, token string }{
				{`{"rules":{}}`, "devices", `"leave_out:` + string(door) + `"`},
				{`{"devices":[{"device":"` + string(door) + `","technology":"door_sensor"}],"rules":{},"confirm":["leave_out:` + string(leak) + `"]}`,
					"devices", `"leave_out:` + string(pendant) + `"`},
				{`{"devices":[{"device":"` + string(door) + `","technology":"door_sensor"},
					{"device":"` + string(pendant) + `","technology":"personal_alarm","panic_on_press":false},
					{"device":"` + string(leak) + `","technology":"water_alarm"}],"rules":{}}`, "devices[1].panic_on_press", `"panic_on_press_off:` + string(pendant) + `"`},
				{`{"devices":[{"device":"` + string(door) + `","technology":"door_sensor"},{"device":"` + string(pendant) + `","technology":"personal_alarm"},
					{"device":"` + string(leak) + `","technology":"water_alarm","fields":{"water_leak":"motion"}}],"rules":{}}`, "devices[2].fields.water_leak", `"field_off:` + string(leak) + `:water_leak"`},
				{`{"devices":[` + all + `],"rules":{"silent_factor":0}}`, "rules.silent_factor", `"silent_factor_off"`},
				{`{"devices":[{"device":"` + string(door) + `","technology":"door_sensor"},{"device":"` + string(leak) + `","technology":"water_alarm"}],
					"rules":{},"confirm":["leave_out:bu-typo"]}`, "devices", `"leave_out:` + string(pendant) + `"`},
			} {
				_, err := svc.Update(ctx, api.Scope{All: true}, home, settings(t, tc.body), 0, "anna")
				var fe *api.FieldError
				if !errors.As(err, &fe) || !errors.Is(err, api.ErrInvalid) || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.token) {
					t.Errorf("%s: %v, want a refusal on %s naming %s", tc.body, err, tc.field, tc.token)
				}
			}
			if v, err := svc.View(ctx, api.Scope{All: true}, home); err != nil || v.Version != 0 {
				t.Fatalf("a refused plan was stored: %+v %v", v, err)
			}

			confirmed := `{"devices":[{"device":"` + string(door) + `","technology":"door_sensor","zigbee":"front_door"}],"rules":{},
				"confirm":["leave_out:` + string(pendant) + `","leave_out:` + string(leak) + `"]}`
			v, err := svc.Update(ctx, api.Scope{All: true}, home, settings(t, confirmed), 0, "anna")
			wantConfirm := []string{"leave_out:" + string(pendant), "leave_out:" + string(leak)}
			slices.Sort(wantConfirm)
			if err != nil || v.Version != 1 || len(v.Settings.Devices) != 1 || !slices.Equal(v.Settings.Confirm, wantConfirm) {
				t.Fatalf("confirmed plan: %+v %v", v, err)
			}
			// A later change that keeps the plan's drops (an absence, a rule) need not confirm
			// them again: they are kept with the plan.
			later := v.Settings
			later.Rules.Night = ptrTo("21:00-07:00")
			if v, err = svc.Update(ctx, api.Scope{All: true}, home, later, 1, "bo"); err != nil || v.Version != 2 {
				t.Fatalf("a change keeping the confirmed drops: %+v %v", v, err)
			}
			log, err := store.AuditLog(ctx, api.Scope{All: true}, "home/"+string(home), 0, 10)
			if err != nil || len(log) == 0 || !strings.Contains(log[0].Detail, "confirmed leave_out:"+string(pendant)+", leave_out:"+string(leak)) {
				t.Fatalf("audit %+v %v", log, err)
			}
			coverage := func() map[vagt.HomeID]careplan.Coverage {
				t.Helper()
				o, err := svc.Overview(ctx, api.Scope{Municipality: 766, Districts: []int64{district}}, 0)
				if err != nil || len(o) != 2 {
					t.Fatalf("overview %+v %v", o, err)
				}
				m := map[vagt.HomeID]careplan.Coverage{}
				for _, h := range o {
					m[h.Home] = h.Devices
				}
				return m
			}
			if c := coverage(); c[home].Registered != 3 || c[home].Covered == nil || *c[home].Covered != 1 ||
				c[bare].Registered != 1 || c[bare].Covered != nil {
				t.Fatalf("coverage %+v", c)
			}
			// Everything added back: the stale confirmations are harmless and not kept.
			if v, err := svc.Update(ctx, api.Scope{All: true}, home, settings(t, `{"devices":[`+all+`],"rules":{},"confirm":["leave_out:`+string(leak)+`"]}`), 2, "bo"); err != nil || v.Settings.Confirm != nil {
				t.Fatalf("the full plan: %+v %v", v, err)
			}
			if c := coverage(); c[home].Registered != 3 || *c[home].Covered != 3 {
				t.Fatalf("coverage of the full plan %+v", c[home])
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
