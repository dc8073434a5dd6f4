package localstack_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// waitFor bounds every wait for a message or an answer. It is generous on
// purpose: a shared 2-core machine can be slow, and no test asserts speed.
const waitFor = 20 * time.Second

// Two readings a minute apart, in line protocol with millisecond times.
const (
	t0        = int64(1_700_000_000_000) // 2023-11-14T22:13:20Z
	twoPoints = "reading,gw=gw1,kind=temperature value=21.5 1700000000000\n" +
		"reading,gw=gw1,kind=temperature value=22.25 1700000060000\n"
)

// The shared server is the one with Flux; each test gets its own database.
func TestSharedInfluxDBAnswersInfluxQLAndFlux(t *testing.T) {
	a, b := stacktest.SharedInfluxDB(t), stacktest.SharedInfluxDB(t)
	if a.Database == b.Database || a.Bucket != a.Database+"/autogen" {
		t.Fatalf("targets %+v and %+v", a, b)
	}
	writeLines(t, a, twoPoints)

	want := []float64{21.5, 22.25}
	if got := influxQLValues(t, a); !slices.Equal(got, want) {
		t.Fatalf("InfluxQL values = %v, want %v", got, want)
	}
	if got := fluxValues(t, a); !slices.Equal(got, want) {
		t.Fatalf("Flux values = %v, want %v", got, want)
	}
	if got := influxQLValues(t, b); len(got) != 0 {
		t.Fatalf("database %s has values %v, want none", b.Database, got)
	}
}

// Flux is off here because loading it costs seconds at every start.
func TestInfluxDBKeepsDataAcrossRestartAndKill(t *testing.T) {
	db := stacktest.InfluxDB(t, localstack.InfluxDBOptions{DisableFlux: true})
	if db.Database != "vagt" || db.Bucket() != "vagt/autogen" {
		t.Fatalf("Database = %q, Bucket() = %q; want vagt, vagt/autogen", db.Database, db.Bucket())
	}
	target := db.Target(db.Database)
	writeLines(t, target, twoPoints)
	want := []float64{21.5, 22.25}

	if err := db.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if db.URL() != target.URL {
		t.Fatalf("URL after restart = %s, want the same %s", db.URL(), target.URL)
	}
	if got := influxQLValues(t, target); !slices.Equal(got, want) {
		t.Fatalf("values after restart = %v, want %v", got, want)
	}

	// A write is answered only after its WAL entry is synced, so a crash
	// right after loses nothing that was acknowledged.
	writeLines(t, target, "reading,gw=gw1,kind=temperature value=23 1700000120000\n")
	if err := db.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := db.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := influxQLValues(t, target), append(want, 23); !slices.Equal(got, want) {
		t.Fatalf("values after kill and start = %v, want %v", got, want)
	}
}

// writeLines writes through the 2.x compatibility endpoint, as the ingest
// service's client does.
func writeLines(t *testing.T, target localstack.InfluxTarget, lines string) {
	t.Helper()
	u := target.URL + "/api/v2/write?precision=ms&bucket=" + url.QueryEscape(target.Bucket) +
		"&org=" + url.QueryEscape(target.Org)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+target.Token)
	body, status := do(t, req)
	if status != http.StatusNoContent {
		t.Fatalf("write: status %d: %s", status, body)
	}
}

func influxQLValues(t *testing.T, target localstack.InfluxTarget) []float64 {
	t.Helper()
	form := url.Values{"db": {target.Database}, "epoch": {"ms"},
		"q": {"SELECT value FROM reading WHERE gw = 'gw1' ORDER BY time"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target.URL+"/query",
		strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body, status := do(t, req)
	if status != http.StatusOK {
		t.Fatalf("query: status %d: %s", status, body)
	}
	var resp struct {
		Results []struct {
			Error  string
			Series []struct{ Values [][]float64 }
		}
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("query response %s: %v", body, err)
	}
	var values []float64
	for _, r := range resp.Results {
		if r.Error != "" {
			t.Fatalf("query: %s", r.Error)
		}
		for _, s := range r.Series {
			for i, row := range s.Values {
				if int64(row[0]) != t0+int64(i)*60_000 {
					t.Errorf("row %d time = %d, want %d", i, int64(row[0]), t0+int64(i)*60_000)
				}
				values = append(values, row[1])
			}
		}
	}
	return values
}

func fluxValues(t *testing.T, target localstack.InfluxTarget) []float64 {
	t.Helper()
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: 2023-11-14T00:00:00Z, stop: 2023-11-15T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "reading" and r._field == "value" and r.gw == "gw1")
  |> sort(columns: ["_time"])`, target.Bucket)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target.URL+"/api/v2/query",
		strings.NewReader(flux))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.flux")
	req.Header.Set("Accept", "application/csv")
	req.Header.Set("Authorization", "Token "+target.Token)
	body, status := do(t, req)
	if status != http.StatusOK {
		t.Fatalf("flux: status %d: %s", status, body)
	}
	r := csv.NewReader(strings.NewReader(string(body)))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("flux CSV %s: %v", body, err)
	}
	col := -1
	var values []float64
	for _, row := range rows {
		if len(row) == 0 || strings.HasPrefix(row[0], "#") {
			continue
		}
		if i := slices.Index(row, "_value"); i >= 0 {
			col = i // a header; one per table
			continue
		}
		if col < 0 || col >= len(row) {
			continue
		}
		v, err := strconv.ParseFloat(row[col], 64)
		if err != nil {
			t.Fatalf("flux value %q: %v\n%s", row[col], err, body)
		}
		values = append(values, v)
	}
	return values
}

func do(t *testing.T, req *http.Request) ([]byte, int) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body, resp.StatusCode
}

func TestSharedPostgresRoundTripAndIsolation(t *testing.T) {
	dsn, other := stacktest.SharedPostgres(t), stacktest.SharedPostgres(t)
	conn := connectPostgres(t, dsn)
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `CREATE TABLE alert (id int PRIMARY KEY, kind text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO alert VALUES (1, 'fall'), (2, 'door_open_night')`); err != nil {
		t.Fatal(err)
	}
	if got, want := alertKinds(t, conn), []string{"fall", "door_open_night"}; !slices.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}

	var table *string
	if err := connectPostgres(t, other).QueryRow(ctx, `SELECT to_regclass('alert')::text`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if table != nil {
		t.Fatalf("the other database has table %s; databases are not isolated", *table)
	}
}

func TestPostgresRestartKeepsDataAndSurvivesKill(t *testing.T) {
	pg := stacktest.Postgres(t)
	if !strings.HasSuffix(pg.DSN(), "/vagt?sslmode=disable") {
		t.Fatalf("DSN() = %s", pg.DSN())
	}
	ctx := t.Context()
	conn := connectPostgres(t, pg.DSN())
	if _, err := conn.Exec(ctx, `CREATE TABLE alert (id int PRIMARY KEY, kind text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO alert VALUES (1, 'fall'), (2, 'bed_exit')`); err != nil {
		t.Fatal(err)
	}
	want := []string{"fall", "bed_exit"}

	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := alertKinds(t, connectPostgres(t, pg.DSN())); !slices.Equal(got, want) {
		t.Fatalf("after restart kinds = %v, want %v", got, want)
	}

	// A crash: with fsync off only what the clean restart checkpointed is
	// sure to survive, and that is what we check.
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if pg.Running() {
		t.Fatal("Running() after Kill")
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := alertKinds(t, connectPostgres(t, pg.DSN())); !slices.Equal(got, want) {
		t.Fatalf("after kill and start kinds = %v, want %v", got, want)
	}
}

// TestPostgresSynchronousCommitSurvivesKill: with SynchronousCommit, what was committed
// the moment before a kill -9 is there after the start (the chaos suite relies on it;
// without the option this test loses the last commits).
func TestPostgresSynchronousCommitSurvivesKill(t *testing.T) {
	pg := stacktest.Postgres(t, localstack.PostgresOptions{SynchronousCommit: true})
	ctx := t.Context()
	conn := connectPostgres(t, pg.DSN())
	var setting string
	if err := conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&setting); err != nil {
		t.Fatal(err)
	}
	if setting != "on" {
		t.Fatalf("synchronous_commit = %s, want on", setting)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE alert (id int PRIMARY KEY, kind text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 200 {
		kind := fmt.Sprintf("panic-%d", i)
		if _, err := conn.Exec(ctx, `INSERT INTO alert VALUES ($1, $2)`, i, kind); err != nil {
			t.Fatal(err)
		}
		want = append(want, kind)
	}
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := alertKinds(t, connectPostgres(t, pg.DSN())); !slices.Equal(got, want) {
		t.Fatalf("after kill and start %d of %d committed rows", len(got), len(want))
	}
}

func connectPostgres(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func alertKinds(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT kind FROM alert ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return kinds
}
