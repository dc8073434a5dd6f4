package sqlstore_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// BenchmarkGatewayEventsSince: the read behind RetellGateway, on a store of 500 gateways
// with 4 resolved alerts each (2,000 alerts, 4,000 events) and one gateway with an alert
// acknowledged after since. "nothing": a gateway none of whose alerts changed since;
// "news": the one that has. go test ./api/sqlstore -run '^$' -bench GatewayEventsSince
func BenchmarkGatewayEventsSince(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s := openBenchStore(b, name)
			ctx := b.Context()
			all := api.Scope{All: true}
			const gateways, per = 500, 4
			for g := range gateways {
				gw := vagt.GatewayID(fmt.Sprintf("gw-b%04d", g))
				for k := range per {
					at := t0.Add(-time.Duration(48-k) * time.Hour)
					r, err := s.IngestAlarm(ctx, &vagt.Alarm{Gateway: gw, Seq: uint64(k + 1), Municipality: 766, Time: at,
						Device: "bu-1:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, at)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.Resolve(ctx, r.Alert.ID, "anna", all, alerts.OutcomeVisitedAllWell, "", at.Add(10*time.Minute)); err != nil {
						b.Fatal(err)
					}
				}
			}
			r, err := s.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-b0007", Seq: 99, Municipality: 766, Time: t0,
				Device: "bu-2:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, t0)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Ack(ctx, r.Alert.ID, "anna", all, t0.Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
			since := t0.Add(-time.Minute)
			b.Run("baseline: LastEventID", func(b *testing.B) { // the cheapest read, for scale
				for b.Loop() {
					if _, err := s.LastEventID(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("note at start: GatewayChangesSince, 4,002 events", func(b *testing.B) {
				for b.Loop() {
					if latest, _, err := s.GatewayChangesSince(ctx, t0.Add(-72*time.Hour), 100_000); err != nil || len(latest) != gateways {
						b.Fatalf("%d gateways, %v", len(latest), err)
					}
				}
			})
			for _, c := range []struct {
				name string
				gw   vagt.GatewayID
				want int
			}{{"nothing", "gw-b0123", 0}, {"news", "gw-b0007", 1}} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						evs, err := s.GatewayEventsSince(ctx, c.gw, since, 64)
						if err != nil || len(evs) != c.want {
							b.Fatalf("%d events, %v; want %d", len(evs), err, c.want)
						}
					}
				})
			}
		})
	}
}

func openBenchStore(b *testing.B, name string) *sqlstore.Store {
	b.Helper()
	dsn := filepath.Join(b.TempDir(), "vagt.db")
	if name == "postgres" {
		dsn = stacktest.SharedPostgres(b)
	}
	s, err := sqlstore.Open(b.Context(), dsn, sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
