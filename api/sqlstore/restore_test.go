package sqlstore_test

import (
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestSkipEventIDs: after a restore the next event's id lies the gap above the newest, so
// an id a console got from the store before the restore is not in the log (HasEvent says
// so, and the stream resets it) and no event after the restore reuses it. An empty log
// (never an event) gets the gap too. The id returned is the one the next event gets
// (PostgreSQL's sequence may stand one above the newest: at least the gap, then).
func TestSkipEventIDs(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		if next, err := s.SkipEventIDs(ctx, 10); err != nil || next < 11 {
			t.Fatalf("empty log: next %d, %v; want at least 11", next, err)
		}
		setup(t, s)
		ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0)
		newest, err := s.LastEventID(ctx)
		if err != nil || newest < 11 {
			t.Fatalf("newest %d, %v", newest, err)
		}
		if ok, err := s.HasEvent(ctx, newest); err != nil || !ok {
			t.Fatalf("HasEvent(newest %d) = %v, %v", newest, ok, err)
		}
		next, err := s.SkipEventIDs(ctx, 1000)
		if err != nil || next < newest+1001 {
			t.Fatalf("next %d, %v; want at least %d", next, err, newest+1001)
		}
		ingest(t, s, alarm("gw-0042", 2, "bu-17:smoke", vagt.AlarmSmoke, t0), t0)
		if got, err := s.LastEventID(ctx); err != nil || got != next {
			t.Fatalf("the first event after the gap has id %d, %v; want %d", got, err, next)
		}
		if ok, err := s.HasEvent(ctx, newest+500); err != nil || ok {
			t.Fatalf("HasEvent(in the gap) = %v, %v", ok, err)
		}
		if _, err := s.SkipEventIDs(ctx, 0); err == nil {
			t.Fatal("a zero gap was taken")
		}
	})
}
