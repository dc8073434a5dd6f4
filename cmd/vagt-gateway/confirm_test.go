package main

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestAlarmLostByBrokerKillIsResent (issue 15, Mosquitto kill -9 after its PUBACK): the
// gateway publishes a panic, the platform broker (real Mosquitto, persistence on, as in
// production) acknowledges it while the api is away, and is killed -9 before it saved
// it. After the broker and the api are back, the gateway's resend — the platform never
// confirmed the alarm on the downlink — makes exactly one alert, which the downlink then
// confirms. Before the fix the PUBACK deleted the alarm from the spool: no alert, ever.
func TestAlarmLostByBrokerKillIsResent(t *testing.T) {
	dir := t.TempDir()
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	apiCfg := server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "vagt.db"), Broker: broker.URL(), ClientID: "vagt-api-confirm"}
	startAPI := func() (*server.Server, func()) {
		srv, err := server.New(t.Context(), apiCfg, server.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); srv.Run(ctx) }()
		stacktest.WaitFor(t, "the alarm lane", time.Minute, srv.AlarmLane().Connected)
		return srv, func() { cancel(); <-done }
	}
	srv, stopAPI := startAPI()

	line, err := baseunit.NewLine(filepath.Join(dir, "tty"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := gateway.Defaults()
	cfg.Gateway, cfg.Municipality = "gw-confirm", 766
	cfg.Spool.Path = filepath.Join(dir, "spool.db")
	cfg.Spool.ConfirmAfter = gateway.Duration(2 * time.Second) // production: 30 s
	cfg.Uplink.Broker, cfg.Serial.Path, cfg.StatusAddr = broker.URL(), line.Path, ""
	g, err := gateway.New(cfg, gateway.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	unit := baseunit.New("bu-1")
	unit.Attach(line.End())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { unit.Run(ctx, line.End()) })
	wg.Go(func() { g.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); line.Unplug() })
	stacktest.WaitFor(t, "the gateway's uplink", time.Minute, func() bool { return g.Snapshot().UplinkUp })

	// The api goes away (its persistent session stays, in the broker's memory); the
	// broker acknowledges the panic and is killed before it saves it.
	stopAPI()
	before := g.Snapshot().Sent
	unit.Alarm("btn", "panic")
	stacktest.WaitFor(t, "the broker's PUBACK", time.Minute, func() bool {
		s := g.Snapshot()
		return s.Sent > before && s.Spool.Alarms == 0
	})
	if err := broker.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := broker.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv, stopAPI = startAPI()
	defer stopAPI()

	var list []alerts.Alert
	stacktest.WaitFor(t, "the alert from the gateway's resend", 2*time.Minute, func() bool {
		list, err = srv.Store.ListAlerts(context.Background(), api.Scope{All: true}, alerts.Filter{})
		return err == nil && len(list) > 0
	})
	stacktest.WaitFor(t, "the platform's confirmation", time.Minute, func() bool { return g.Snapshot().Confirm.Unconfirmed == 0 })
	list, err = srv.Store.ListAlerts(context.Background(), api.Scope{All: true}, alerts.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Type != vagt.AlarmPanic {
		t.Fatalf("alerts %+v, want exactly one panic", list)
	}
	if c := g.Snapshot().Confirm; c.Resent == 0 || c.Confirmed == 0 || c.GaveUp != 0 {
		t.Errorf("confirmation %+v: want the alarm resent and then confirmed", c)
	}
}
