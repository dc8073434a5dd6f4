// Package sqlstore is the API's SQL store: alerts and their events, the minimal registry
// alerts need (municipalities, districts, citizens, homes, gateways, devices), users and
// token hashes, and the audit log. It speaks SQLite (modernc.org/sqlite, WAL; the embedded
// default) and PostgreSQL (jackc/pgx/v5; several API replicas), with one set of queries
// written with ? placeholders and versioned migrations that run at Open.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// ErrUnavailable wraps a failure to reach the database, as opposed to a refused change.
var ErrUnavailable = api.ErrUnavailable

type dialect int

const (
	sqlite dialect = iota
	postgres
)

// Options configure a Store.
type Options struct {
	Policy alerts.Policy // zero: alerts.DefaultPolicy()
	Logger *slog.Logger
}

// DB is the shared database handle every service type works over: the connection pool,
// the dialect, the migrations, the transactions with their retry and the advisory locks
// (services.go). It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect dialect
	dsn     string
	policy  alerts.Policy
	log     *slog.Logger

	mu       sync.Mutex
	onCommit []func()
	rebound  sync.Map // query with ? → query with $n (PostgreSQL)
	// ignored holds the decommissioned gateways whose status was ignored, so each is
	// logged once per process rather than at every heartbeat.
	ignored sync.Map
}

// Open opens the database that dsn names — a postgres:// or postgresql:// URL, or else an
// SQLite file path ("file:" URLs allowed) — and runs the migrations it has not seen.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	if o.Policy.Escalate == nil {
		o.Policy = alerts.DefaultPolicy()
	}
	if err := o.Policy.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &DB{dsn: dsn, policy: o.Policy, log: o.Logger}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s.dialect = postgres
		s.db, err = sql.Open("pgx", dsn)
		if err == nil {
			s.db.SetMaxOpenConns(16)
			s.db.SetMaxIdleConns(8)
		}
	} else {
		s.dialect = sqlite
		if err := privateFiles(dsn); err != nil {
			return nil, fmt.Errorf("sqlstore: open: %w", err)
		}
		s.db, err = sql.Open("sqlite", sqliteDSN(dsn))
		if err == nil {
			// Writers queue on SQLite's lock anyway (BEGIN IMMEDIATE, busy timeout);
			// readers run beside them thanks to WAL.
			s.db.SetMaxOpenConns(8)
			s.db.SetMaxIdleConns(8)
			s.db.SetConnMaxIdleTime(0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return newStore(s), nil
}

func sqliteDSN(path string) string {
	if !strings.HasPrefix(path, "file:") {
		path = "file:" + path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Postgres reports whether the store is on PostgreSQL (several replicas may share it).
func (s *DB) Postgres() bool { return s.dialect == postgres }

// Ping checks that the database answers (readiness).
func (s *DB) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// OnCommit registers f to run after every commit that appended alert events in this
// process (e.g. Feed.Wake). Other processes learn of them through Listen.
func (s *DB) OnCommit(f func()) {
	s.mu.Lock()
	s.onCommit = append(s.onCommit, f)
	s.mu.Unlock()
}

func (s *DB) committed() {
	s.mu.Lock()
	fs := s.onCommit
	s.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// q rewrites a query's ? placeholders for the dialect.
func (s *DB) q(query string) string {
	if s.dialect != postgres {
		return query
	}
	if v, ok := s.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	s.rebound.Store(query, b.String())
	return b.String()
}

// tx is a transaction with the store's placeholder rewriting.
type tx struct {
	*sql.Tx
	s      *DB
	events bool
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.ExecContext(ctx, t.s.q(query), args...)
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.QueryContext(ctx, t.s.q(query), args...)
}

func (t *tx) row(ctx context.Context, query string, args ...any) *sql.Row {
	return t.QueryRowContext(ctx, t.s.q(query), args...)
}

// inTx runs f in a transaction, retrying when PostgreSQL reports a race that a retry
// resolves (a unique violation between two replicas creating one alert, a serialization
// failure, a deadlock).
func (s *DB) inTx(ctx context.Context, f func(*tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.tryTx(ctx, f)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (s *DB) tryTx(ctx context.Context, f func(*tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: begin: %w", ErrUnavailable, err)
	}
	t := &tx{Tx: sqlTx, s: s}
	if err := f(t); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("%w: commit: %w", ErrUnavailable, err)
	}
	if t.events {
		s.committed()
	}
	return nil
}

func retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505", "40001", "40P01":
			return true
		}
	}
	return false
}

// storeErr wraps a database error: a domain error passes through, anything else is the
// store failing.
func storeErr(op string, err error) error {
	for _, e := range []error{api.ErrNotFound, api.ErrConflict, api.ErrInvalid, api.ErrForbidden, ErrUnavailable} {
		if errors.Is(err, e) {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMs(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMs(v.Int64)
	return &t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Listen calls wake whenever another process (an API replica on the same PostgreSQL)
// commits alert events, and once after every (re)connection, since notifications sent while
// it was away are lost. It returns when ctx is done; on SQLite, whose file one process
// owns, it returns at once.
func (s *DB) Listen(ctx context.Context, wake func()) error {
	if s.dialect != postgres {
		return nil
	}
	for ctx.Err() == nil {
		err := s.listen(ctx, wake)
		if ctx.Err() != nil {
			break
		}
		s.log.Warn("sqlstore: LISTEN connection lost; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (s *DB) listen(ctx context.Context, wake func()) error {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN vagt_events"); err != nil {
		return err
	}
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
