package stacktest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/vagt-dk/vagt/test/localstack"
)

// shared holds the servers one test binary shares. It is package state by
// necessity: it lives exactly as long as the test binary, from the first
// test that asks until Main stops it.
var shared struct {
	mu       sync.Mutex
	inMain   bool
	postgres sharedServer[*localstack.Postgres]
	influx   sharedServer[*localstack.InfluxDB]
	seq      int
}

// sharedServer is started at most once; a failed start is remembered, so
// every later test skips or fails with the same reason without retrying.
type sharedServer[S service] struct {
	tried  bool
	server S
	err    error
}

// Main runs the tests and then stops the shared servers. Use it in every
// test package that calls SharedPostgres or SharedInfluxDB:
//
//	func TestMain(m *testing.M) { stacktest.Main(m) }
//
// It returns rather than exits; the testing package then exits with
// m.Run's code.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	defer closeShared()
	m.Run()
}

func closeShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.postgres.close("postgres")
	shared.influx.close("influxd")
	shared.inMain = false
}

// close stops a server that was started; there is no test left to report
// to, so a failure goes to stderr, where `go test` shows it.
func (s *sharedServer[S]) close(name string) {
	if s.tried && s.err == nil {
		if err := s.server.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "stacktest: close shared %s: %v\n", name, err)
		}
	}
	*s = sharedServer[S]{}
}

// SharedPostgres returns the DSN of a new, empty database on the test
// binary's shared PostgreSQL, starting the server with the first call. The
// database is dropped when t ends. The server must not be stopped or
// restarted by a test; use Postgres for that.
func SharedPostgres(t testing.TB) string {
	t.Helper()
	pg := sharedStart(t, "postgres", &shared.postgres, func(ctx context.Context) (*localstack.Postgres, error) {
		return localstack.StartPostgres(ctx, localstack.PostgresOptions{})
	})
	name := databaseName(t)
	dsn, err := pg.CreateDatabase(t.Context(), name)
	if err != nil {
		t.Fatalf("stacktest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared postgres log %s, last lines:\n%s", pg.LogPath(), pg.LogTail())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.DropDatabase(ctx, name); err != nil {
			t.Errorf("stacktest: %v", err)
		}
	})
	return dsn
}

// SharedInfluxDB returns a new, empty database on the test binary's shared
// InfluxDB, starting the server with the first call. The database is
// dropped when t ends. The server must not be stopped or restarted by a
// test; use InfluxDB for that.
func SharedInfluxDB(t testing.TB) localstack.InfluxTarget {
	t.Helper()
	db := sharedStart(t, "influxd", &shared.influx, func(ctx context.Context) (*localstack.InfluxDB, error) {
		return localstack.StartInfluxDB(ctx, localstack.InfluxDBOptions{})
	})
	name := databaseName(t)
	if err := db.CreateDatabase(t.Context(), name); err != nil {
		t.Fatalf("stacktest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared influxd log %s, last lines:\n%s", db.LogPath(), db.LogTail())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.DropDatabase(ctx, name); err != nil {
			t.Errorf("stacktest: %v", err)
		}
	})
	return db.Target(name)
}

func sharedStart[S service](t testing.TB, name string, s *sharedServer[S],
	startService func(context.Context) (S, error)) S {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		t.Fatalf("stacktest: a shared %s needs `func TestMain(m *testing.M) { stacktest.Main(m) }` "+
			"in this package, which stops it when the tests end", name)
	}
	if !s.tried {
		s.tried = true
		// Not t.Context(): the server outlives this test.
		s.server, s.err = startService(context.Background())
	}
	if s.err != nil {
		unavailable(t, "shared "+name, s.err)
	}
	return s.server
}

// databaseName makes a database name from the test's name that is unique in
// the test binary and valid unquoted in PostgreSQL (lower case, at most 63
// bytes), which makes the server's log readable.
func databaseName(t testing.TB) string {
	shared.mu.Lock()
	shared.seq++
	seq := shared.seq
	shared.mu.Unlock()
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	base := b.String()
	if len(base) > 40 {
		base = base[:40]
	}
	return fmt.Sprintf("t%d_%s", seq, base)
}
