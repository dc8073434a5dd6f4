package httpapi_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// BenchmarkListAlertsAudience100k is BenchmarkListAlerts100k with the audience escalation
// writes (docs/alerts.md, "Rosters and escalation"): 100,000 alerts, each with its shift
// (one of 50 people) and every third with a backup too; one page of 50 as staff of one
// district (anna) and as a person of another district on some of the shifts (nina).
func BenchmarkListAlertsAudience100k(b *testing.B) {
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
			f.addStaffB(b, "nina", 2)
			for _, stmt := range []string{series + `
				INSERT INTO alerts (state, type, priority, gateway_id, device_id, municipality, district_id, registered,
					raised_at, last_at, count, escalation_level, details, created_at)
				SELECT CASE x % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'acknowledged' ELSE 'resolved' END,
					1 + x % 13, 1 + x % 3, 'gw-' || (x % 5000), 'dev-' || x, 766, 1 + x % 10, 1,
					1795403520000 + x, 1795403520000 + x, 1, 0, '', 1795403520000 + x FROM c`,
				`INSERT INTO alert_audience (alert_id, tier, user_name, district_id)
					SELECT id, 'district', CASE WHEN id % 50 = 0 THEN 'nina' ELSE 'user-' || (id % 50) END, 0 FROM alerts`,
				`INSERT INTO alert_audience (alert_id, tier, user_name, district_id)
					SELECT id, 'backup', '', 3 FROM alerts WHERE id % 3 = 0`,
			} {
				if _, err := db.ExecContext(b.Context(), stmt); err != nil {
					b.Fatal(err)
				}
			}
			if name == "postgres" {
				_, _ = db.ExecContext(b.Context(), "ANALYZE")
			}
			for _, user := range []string{"anna", "nina"} {
				b.Run("as="+user, func(b *testing.B) {
					req, _ := http.NewRequest("GET", f.url+"/api/v1/alerts", nil)
					req.Header.Set("Authorization", "Bearer "+f.tokens[user])
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
