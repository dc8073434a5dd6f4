package downlink_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/downlink"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// BenchmarkOnlineStatusNothingNew: what an online status of a gateway with nothing new
// costs the status lane: "retell" is RetellGateway alone (the in-memory note says nothing
// changed: no store read, nothing queued); "record and retell" adds the store's
// RecordStatusSeen, as laneSink.Status does (SQLite).
// go test ./api/downlink -run '^$' -bench OnlineStatusNothingNew -benchmem
func BenchmarkOnlineStatusNothingNew(b *testing.B) {
	ctx := b.Context()
	store, err := sqlstore.Open(ctx, b.TempDir()+"/vagt.db", sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	n := downlink.New(store, nil, downlink.Options{Clock: fixedClock(t0.Add(-time.Hour))})
	if err := n.Prime(ctx); err != nil { // starts the note
		b.Fatal(err)
	}
	gws := make([]vagt.GatewayID, 1000)
	for i := range gws {
		gws[i] = vagt.GatewayID(fmt.Sprintf("gw-%04d", i))
	}
	b.Run("retell", func(b *testing.B) {
		i := 0
		for b.Loop() {
			n.RetellGateway(gws[i%len(gws)], t0, t0.Add(time.Minute))
			i++
		}
	})
	b.Run("record and retell", func(b *testing.B) {
		i := 0
		for b.Loop() {
			now := t0.Add(time.Duration(i) * time.Second)
			st := vagt.Status{Gateway: gws[i%len(gws)], Municipality: 766, Online: true, Time: now}
			seen, err := store.RecordStatusSeen(ctx, &st, now)
			if err != nil {
				b.Fatal(err)
			}
			n.RetellGateway(st.Gateway, seen.Previous, now)
			i++
		}
	})
}
