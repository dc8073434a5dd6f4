package careplan_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestAbsence on SQLite and PostgreSQL: staff set an absence on a home without a plan of
// its own (from the console: SetAbsence); it becomes version 1 with the registered devices,
// is published to the gateway as a wire version 2 configuration carrying it, shows in the
// overview as away until, names "absence" in history and audit; an absence in the past or
// reversed is refused with its field; ending it publishes a version 1 message again; an
// alarm of a routine rule arriving while away raises no alert, a panic does.
func TestAbsence(t *testing.T) {
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
			district, err := store.CreateDistrict(ctx, 766, "Away-"+name)
			if err != nil {
				t.Fatal(err)
			}
			home, gw := vagt.HomeID("home-away-"+name), vagt.GatewayID("gw-away-"+name)
			if err := errors.Join(store.CreateHome(ctx, home, district, 0), store.RegisterGateway(ctx, gw, home),
				store.RegisterDevice(ctx, "door-"+vagt.DeviceID(name), gw, vagt.TechDoorSensor, "front door")); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			clock := api.NewManualClock(now)
			pub := &fakePublisher{}
			svc := careplan.NewService(store, careplan.Options{Publisher: pub, Clock: clock, Retry: 10 * time.Millisecond})
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- svc.Run(runCtx) }()
			defer func() { cancel(); <-done }()

			for _, bad := range []struct {
				a     careplan.Absence
				field string
			}{
				{careplan.Absence{Until: now.Add(-time.Hour)}, "absence.until"},
				{careplan.Absence{From: now.Add(48 * time.Hour), Until: now.Add(24 * time.Hour)}, "absence.until"},
				{careplan.Absence{Until: now.Add(400 * 24 * time.Hour)}, "absence.until"},
				{careplan.Absence{Until: now.Add(time.Hour), Reason: "party"}, "absence.reason"},
			} {
				var fe *api.FieldError
				if _, err := svc.SetAbsence(ctx, api.Scope{All: true}, home, &bad.a, "anna"); !errors.As(err, &fe) || fe.Field != bad.field {
					t.Errorf("absence %+v: %v, want a field error on %s", bad.a, err, bad.field)
				}
			}

			until := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
			v, err := svc.SetAbsence(ctx, api.Scope{All: true}, home, &careplan.Absence{Until: until, Reason: "hospital"}, "anna")
			if err != nil || v.Version != 1 || len(v.Settings.Devices) != 1 || v.Effective.Absence == nil {
				t.Fatalf("set absence: %+v %v", v, err)
			}
			if got := v.AwayUntil(now); got == nil || !got.Equal(until) {
				t.Errorf("view away until %v", got)
			}
			waitFor(t, "version 1 published", func() bool { return len(pub.versions()) == 1 })
			pub.mu.Lock()
			sent := pub.sent[0]
			pub.mu.Unlock()
			if !sent.Absence.From.Equal(now) || !sent.Absence.Until.Equal(until) {
				t.Errorf("published absence %+v", sent.Absence)
			}
			if data, err := vagt.EncodeConfig(&sent); err != nil || data[2] != 2 {
				t.Errorf("wire version of a configuration with an absence: % x %v", data[:3], err)
			}
			o, err := svc.Overview(ctx, api.Scope{Municipality: 766, Districts: []int64{district}}, 0)
			if err != nil || len(o) != 1 || o[0].AwayUntil == nil || !o[0].AwayUntil.Equal(until) {
				t.Errorf("overview %+v %v", o, err)
			}

			// The platform's second line: a routine alarm arriving while away is suppressed.
			r, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: gw, Seq: 1, Municipality: 766, Time: now, Device: vagt.DeviceID(gw),
				Type: vagt.AlarmInactivity, Priority: vagt.PriorityHigh}, now.Add(time.Hour))
			if err != nil || r.Change != sqlstore.ChangeSuppressed {
				t.Errorf("inactivity while away: %s %v", r.Change, err)
			}
			r, err = store.IngestAlarm(ctx, &vagt.Alarm{Gateway: gw, Seq: 2, Municipality: 766, Time: now, Device: "door-" + vagt.DeviceID(name),
				Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, now.Add(time.Hour))
			if err != nil || r.Change != sqlstore.ChangeRaised {
				t.Errorf("panic while away: %s %v", r.Change, err)
			}

			clock.Advance(24 * time.Hour)
			if v, err = svc.SetAbsence(ctx, api.Scope{All: true}, home, nil, "bo"); err != nil || v.Version != 2 || v.Effective.Absence != nil {
				t.Fatalf("end absence: %+v %v", v, err)
			}
			waitFor(t, "version 2 published", func() bool { return slices.Equal(pub.versions(), []uint64{1, 2}) })
			pub.mu.Lock()
			if data, _ := vagt.EncodeConfig(&pub.sent[1]); data[2] != 1 {
				t.Errorf("a configuration without an absence is wire version %d", data[2])
			}
			pub.mu.Unlock()
			h, err := svc.History(ctx, api.Scope{All: true}, home, 0)
			if err != nil || len(h) != 2 || !slices.Equal(h[0].Changed, []string{"absence"}) {
				t.Errorf("history %+v %v", h, err)
			}
			log, err := store.AuditLog(ctx, api.Scope{All: true}, "home/"+string(home), 0, 10)
			if err != nil || len(log) != 2 || !strings.Contains(log[0].Detail, "absence") {
				t.Errorf("audit %+v %v", log, err)
			}
			r, err = store.IngestAlarm(ctx, &vagt.Alarm{Gateway: gw, Seq: 3, Municipality: 766, Time: now, Device: vagt.DeviceID(gw),
				Type: vagt.AlarmInactivity, Priority: vagt.PriorityHigh}, clock.Now())
			if err != nil || r.Change != sqlstore.ChangeRaised {
				t.Errorf("inactivity after the absence ended: %s %v", r.Change, err)
			}
		})
	}
}
