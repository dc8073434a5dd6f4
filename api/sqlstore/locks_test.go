package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
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

// TestNightCheckLockOrder: every transaction that takes more than one advisory lock takes
// them in one order (activity, audit, event log), or two of them deadlock on PostgreSQL and
// one is aborted: an acknowledgement that fails, or a missed night check whose alert waits
// for the next sweep. MissNightCheck raised (event log) before it audited (audit): here it
// waits for the audit lock an alert action holds while that action waits for the event log.
func TestNightCheckLockOrder(t *testing.T) {
	dsn := stacktest.SharedPostgres(t)
	s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := setup(t, s)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	action, err := db.BeginTx(ctx, nil) // an alert action: audit, then event log
	if err != nil {
		t.Fatal(err)
	}
	defer action.Rollback()
	if _, err := action.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, sqlstore.AuditLockForTest); err != nil {
		t.Fatal(err)
	}
	type result struct {
		created bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		created, err := s.MissNightCheck(ctx, night.Check{Home: w.home, Municipality: 766, DueAt: t0.Add(-time.Hour),
			Grade: "amber", State: night.RawJSON(`{}`)}, "gw-0042", t0)
		done <- result{created, err}
	}()
	// Wait until the sweep's transaction waits for the audit lock.
	for waiting := false; !waiting; {
		select {
		case r := <-done:
			t.Fatalf("the sweep did not wait for the audit lock: %+v", r)
		case <-ctx.Done():
			t.Fatal("the sweep never waited for the audit lock")
		case <-time.After(20 * time.Millisecond):
		}
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.objid = $1 AND NOT l.granted)`,
			sqlstore.AuditLockForTest).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	// While it waits for the audit lock it must not hold the event log's: every alarm's
	// commit would wait behind it, and an alert action (audit, then event log) deadlocks
	// with it until PostgreSQL aborts one (deadlock_timeout, 1 s, then a retry).
	var holds bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.objid = $1 AND l.granted)`,
		sqlstore.EventLogLockForTest).Scan(&holds); err != nil {
		t.Fatal(err)
	}
	if holds {
		t.Errorf("the sweep holds the event log's lock while it waits for the audit lock (order: audit, then event log)")
	}
	if _, err := action.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, sqlstore.EventLogLockForTest); err != nil {
		t.Errorf("the alert action: %v", err)
	}
	if err := action.Commit(); err != nil {
		t.Errorf("the alert action's commit: %v", err)
	}
	if r := <-done; r.err != nil || !r.created {
		t.Errorf("missed night check: created %v, %v", r.created, r.err)
	}
}
