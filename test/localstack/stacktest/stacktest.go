// Package stacktest starts the local service stack (package localstack) for
// tests: a service per test, or one PostgreSQL and one InfluxDB shared by
// all tests of a test binary with a fresh database per test.
//
// When a service's program is not installed, the test is skipped, or fails
// when the environment sets VAGT_REQUIRE_SERVICES=1 (as CI does), with the
// command that installs it. When a test fails, the service's log tail is
// printed.
package stacktest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/test/localstack"
)

// RequireEnv names the environment variable that turns a missing service
// from a skip into a failure.
const RequireEnv = "VAGT_REQUIRE_SERVICES"

// Mosquitto starts a broker for t alone (it is cheap: milliseconds) and
// closes it when t ends. At most one opts is used.
func Mosquitto(t testing.TB, opts ...localstack.MosquittoOptions) *localstack.Mosquitto {
	t.Helper()
	return start(t, "mosquitto", func(ctx context.Context) (*localstack.Mosquitto, error) {
		return localstack.StartMosquitto(ctx, first(opts))
	})
}

// NATSCluster starts a NATS cluster speaking MQTT (three nodes unless opts say otherwise)
// for t alone and closes it when t ends. It takes a few seconds: the nodes elect a
// JetStream leader and create the MQTT streams before they answer.
func NATSCluster(t testing.TB, opts ...localstack.NATSClusterOptions) *localstack.NATSCluster {
	t.Helper()
	return start(t, "nats-server", func(ctx context.Context) (*localstack.NATSCluster, error) {
		return localstack.StartNATSCluster(ctx, first(opts))
	})
}

// InfluxDB starts an InfluxDB for t alone and closes it when t ends. It
// takes a second or two; prefer SharedInfluxDB unless the test stops,
// kills or restarts the server.
func InfluxDB(t testing.TB, opts ...localstack.InfluxDBOptions) *localstack.InfluxDB {
	t.Helper()
	return start(t, "influxd", func(ctx context.Context) (*localstack.InfluxDB, error) {
		return localstack.StartInfluxDB(ctx, first(opts))
	})
}

// Postgres starts a PostgreSQL for t alone and closes it when t ends. It
// takes a few seconds (initdb); prefer SharedPostgres unless the test stops,
// kills or restarts the server.
func Postgres(t testing.TB, opts ...localstack.PostgresOptions) *localstack.Postgres {
	t.Helper()
	return start(t, "postgres", func(ctx context.Context) (*localstack.Postgres, error) {
		return localstack.StartPostgres(ctx, first(opts))
	})
}

// service is what start needs of the three localstack services.
type service interface {
	LogPath() string
	LogTail() string
	Close() error
}

func start[S service](t testing.TB, name string, startService func(context.Context) (S, error)) S {
	t.Helper()
	s, err := startService(t.Context())
	if err != nil {
		unavailable(t, name, err)
	}
	t.Cleanup(func() {
		// Before Close, which removes the log.
		if t.Failed() {
			t.Logf("%s log %s, last lines:\n%s", name, s.LogPath(), s.LogTail())
		}
		if err := s.Close(); err != nil {
			t.Errorf("stacktest: close %s: %v", name, err)
		}
	})
	return s
}

// unavailable ends t for a service that could not be started: a skip when
// it is not installed (unless RequireEnv is set), a failure otherwise.
func unavailable(t testing.TB, name string, err error) {
	t.Helper()
	if errors.Is(err, localstack.ErrNotInstalled) && os.Getenv(RequireEnv) != "1" {
		t.Skipf("stacktest: %s is not available, skipping (set %s=1 to fail instead): %v", name, RequireEnv, err)
	}
	t.Fatalf("stacktest: start %s: %v", name, err)
}

func first[O any](opts []O) O {
	var o O
	if len(opts) > 0 {
		o = opts[0]
	}
	return o
}

// WaitFor polls cond until it holds, and fails the test after limit. The limit bounds a
// wait for something that must happen; it is not a latency target.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
