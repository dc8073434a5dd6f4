package sqlstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/fhir"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// BenchmarkPullPage: one page of 50 visits (with its audit) from the middle of a log of
// 3,000 resolved alarms, and a first pull by _since that scans the log from its start.
//
//	go test ./api/sqlstore -run '^$' -bench PullPage -benchtime 200x
func BenchmarkPullPage(b *testing.B) {
	ctx := b.Context()
	s, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d, _ := s.CreateDistrict(ctx, 766, "Nord")
	for h := range 100 {
		c, _ := s.CreateCitizen(ctx, 766, api.Citizen{Name: "citizen"})
		home := vagt.HomeID("home-" + itoaInt(h))
		if err := s.CreateHome(ctx, home, d, c); err != nil {
			b.Fatal(err)
		}
		if err := s.RegisterGateway(ctx, vagt.GatewayID("gw-"+itoaInt(h)), home); err != nil {
			b.Fatal(err)
		}
	}
	const n = 3000
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		r, err := s.IngestAlarm(ctx, &vagt.Alarm{Gateway: vagt.GatewayID("gw-" + itoaInt(i%100)), Seq: uint64(i + 1), Municipality: 766,
			Time: at, Device: "btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, at)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Resolve(ctx, r.Alert.ID, "anna", api.Scope{Municipality: 766}, alerts.OutcomeVisitedAllWell, "", at.Add(time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	svc := fhir.NewService(fhir.Config{Store: s, Now: func() time.Time { return t0.Add(n * time.Minute) }})
	mid, err := s.Visits(ctx, 766, 0, time.Time{}, n/2)
	if err != nil || len(mid) != n/2 {
		b.Fatalf("%d visits, %v", len(mid), err)
	}
	cursor := fhir.Cursor{Municipality: 766, Event: mid[len(mid)-1].Event}.String()
	caller := fhir.Caller{Actor: "care-record", Municipality: 766}
	b.Run("cursor", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Pull(ctx, caller, fhir.Query{Cursor: cursor, Base: "http://x/"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("since", func(b *testing.B) {
		since := t0.Add(n / 2 * time.Minute).Format(time.RFC3339)
		for b.Loop() {
			if _, err := svc.Pull(ctx, caller, fhir.Query{Since: since, Base: "http://x/"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func itoaInt(i int) string { return itoa(int64(i)) }
