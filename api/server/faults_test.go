package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestStoreDownNoAck: while the database is down the lane acknowledges nothing; a consumer
// stopped then leaves the alarm with the broker, which delivers it again to the next one
// with the same session, and the alarm becomes an alert.
func TestStoreDownNoAck(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	pg := stacktest.Postgres(t)
	dsn := pg.DSN()
	first := startAPI(t, broker, dsn, "vagt-api-down", api.NewManualClock(t0))
	gw := newGateway(t, broker.URL())
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
	waitFor(t, "the lane to fail to commit", func() bool { return first.srv.AlarmLane().StoreErrors() >= 2 })
	first.stop() // gives up without an acknowledgement

	if err := pg.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := startAPI(t, broker, dsn, "vagt-api-down", api.NewManualClock(t0))
	waitFor(t, "the redelivered alarm to become an alert", func() bool {
		list, err := second.srv.Store.ListAlerts(t.Context(), api.Scope{All: true}, alerts.Filter{})
		return err == nil && len(list) == 1 && list[0].Type == vagt.AlarmPanic
	})
}

// TestReplicasShareEvents: with two API replicas on one PostgreSQL, an alert that one
// commits reaches the stream of the other through NOTIFY (the other's poll is set to an
// hour, so nothing else could bring it).
func TestReplicasShareEvents(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	dsn := stacktest.SharedPostgres(t)
	a := startAPI(t, broker, dsn, "vagt-api-a", api.NewManualClock(t0))
	a.world(t)

	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: dsn, FeedPoll: time.Hour}, server.Deps{})
	b := &stack{srv: srv, base: "http://" + srv.Addr(), tokens: a.tokens}
	waitFor(t, "replica b", func() bool { return srv.Store.Ping(t.Context()) == nil })
	events := b.stream(t, "anna", 0)

	gw := newGateway(t, broker.URL())
	gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 7, Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
	ev := next(t, events, "replica a's alert on replica b's stream", func(e sseEvent) bool { return e.Name == "new" })
	if ev.Data.Alert.Type != vagt.AlarmPanic {
		t.Fatalf("%+v", ev.Data)
	}
}

// TestEveryReplicaTakesEveryAlarm: with --group - each replica subscribes to every alarm;
// copies are no-ops in the store, and a replica that goes away holds nothing back (in a
// shared group, the broker would queue part of the alarms for its session).
func TestEveryReplicaTakesEveryAlarm(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	dsn := stacktest.SharedPostgres(t)
	start := func(id string) (*server.Server, func()) {
		srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: dsn, Broker: broker.URL(), ClientID: id, Group: "-"}, server.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		waitFor(t, id+" subscribed", srv.AlarmLane().Connected)
		var once sync.Once
		stop := func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(stop)
		return srv, stop
	}
	a, _ := start("vagt-api-a")
	_, stopB := start("vagt-api-b")
	gw := newGateway(t, broker.URL())
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: uint64(i + 1), Time: t0, Device: vagt.DeviceID(fmt.Sprint("dev-", i)), Type: vagt.AlarmPanic})
		}
	}
	alertsIn := func(want int) func() bool {
		return func() bool {
			list, err := a.Store.ListAlerts(t.Context(), api.Scope{All: true}, alerts.Filter{})
			if err != nil || len(list) != want {
				return false
			}
			for _, al := range list {
				if al.Count != 1 {
					t.Fatalf("a copy counted as a repeat: %+v", al)
				}
			}
			return true
		}
	}
	publish(0, 10)
	waitFor(t, "10 alerts from two replicas", alertsIn(10))
	stopB()
	publish(10, 20)
	waitFor(t, "20 alerts with replica b gone", alertsIn(20))
}
