package httpapi_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// BenchmarkListAlerts100k is the cost of GET /api/v1/alerts (one page of 50, as staff of one
// of 10 districts) with 100,000 alerts in the store, on SQLite and PostgreSQL.
func BenchmarkListAlerts100k(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			dsn := filepath.Join(b.TempDir(), "vagt.db")
			driver, raw, series := "sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)",
				`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)`
			if name == "postgres" {
				dsn = stacktest.SharedPostgres(b)
				driver, raw, series = "pgx", dsn, `WITH c(x) AS (SELECT generate_series(1, 100000))`
			}
			f := newFixtureDB(b, 8, dsn)
			db, err := sql.Open(driver, raw)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for i := range 8 {
				if _, err := f.store.CreateDistrict(b.Context(), 766, fmt.Sprint("D", i)); err != nil {
					b.Fatal(err)
				}
			}
			// Fill the table in one statement: the lane's path is measured elsewhere.
			_, err = db.ExecContext(b.Context(), series+`
				INSERT INTO alerts (state, type, priority, gateway_id, device_id, municipality, district_id, registered,
					raised_at, last_at, count, escalation_level, details, created_at)
				SELECT CASE x % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'acknowledged' ELSE 'resolved' END,
					1 + x % 13, 1 + x % 3, 'gw-' || (x % 5000), 'dev-' || x, 766, 1 + x % 10, 1,
					1795403520000 + x, 1795403520000 + x, 1, 0, '', 1795403520000 + x FROM c`)
			if err != nil {
				b.Fatal(err)
			}
			if name == "postgres" {
				_, _ = db.ExecContext(b.Context(), "ANALYZE alerts")
			}
			for _, q := range []string{"", "?state=open", "?state=open&priority=critical", "?before=50000&limit=100"} {
				b.Run("query="+strings.TrimPrefix(q, "?"), func(b *testing.B) {
					req, _ := http.NewRequest("GET", f.url+"/api/v1/alerts"+q, nil)
					req.Header.Set("Authorization", "Bearer "+f.tokens["anna"])
					for b.Loop() {
						resp, err := http.DefaultClient.Do(req)
						if err != nil || resp.StatusCode != 200 {
							b.Fatalf("%v %v", err, resp)
						}
						resp.Body.Close()
					}
				})
			}
		})
	}
}
