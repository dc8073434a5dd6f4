package httpapi_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"testing"

	_ "modernc.org/sqlite"
)

// BenchmarkListAlerts100k is the cost of GET /api/v1/alerts (one page of 50, as staff of one
// of 10 districts) with 100,000 alerts in the store (SQLite).
func BenchmarkListAlerts100k(b *testing.B) {
	f := newFixture(b)
	// Fill the table in one statement: the lane's path is measured elsewhere.
	db, err := sql.Open("sqlite", "file:"+f.dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range 8 {
		if _, err := f.store.CreateDistrict(b.Context(), 766, fmt.Sprint("D", i)); err != nil {
			b.Fatal(err)
		}
	}
	_, err = db.ExecContext(b.Context(), `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
		INSERT INTO alerts (state, type, priority, gateway_id, device_id, municipality, district_id, registered,
			raised_at, last_at, count, escalation_level, details, created_at)
		SELECT CASE x % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'acknowledged' ELSE 'resolved' END,
			1 + x % 13, 1 + x % 3, 'gw-' || (x % 5000), 'dev-' || x, 766, 1 + x % 10, 1,
			1795403520000 + x, 1795403520000 + x, 1, 0, '', 1795403520000 + x FROM c`)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"", "?state=open", "?state=open&priority=critical", "?before=50000&limit=100"} {
		b.Run("query="+q, func(b *testing.B) {
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
}
