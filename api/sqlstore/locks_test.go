package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

// TestRollupLockDoesNotHoldAlarms: on PostgreSQL the roll-up rewrites a day of device
// activity (seconds for a large municipality) under its advisory lock. An alarm committed
// meanwhile must not wait for it: the roll-up's lock is not the event log's. It shared a key
// with the event log's lock, so an alarm waited for the whole rewrite.
func TestRollupLockDoesNotHoldAlarms(t *testing.T) {
	dsn := stacktest.SharedPostgres(t)
	s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setup(t, s)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rollup, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rollup.Rollback()
	if _, err := rollup.ExecContext(t.Context(), `SELECT pg_advisory_xact_lock($1)`, sqlstore.ActivityLockForTest); err != nil {
		t.Fatal(err)
	}
	// Held by the "roll-up" until the end of the test: the alarm must commit regardless.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	r, err := s.IngestAlarm(ctx, alarm("gw-0042", 9001, "bu-17:btn", vagt.AlarmPanic, t0), t0)
	if err != nil {
		t.Fatalf("an alarm waited behind the roll-up's lock: %v", err)
	}
	if r.Change != sqlstore.ChangeRaised {
		t.Fatalf("alarm: %+v", r)
	}
}
