package httpapi_test

import (
	"archive/zip"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/api/registry"
)

// TestCitizenExportAndErasure: the citizen sees everything held about them and who looked
// at it, as JSON and as a zip of CSVs; an admin's erasure removes the personal data and the
// telemetry and leaves the anonymous counts — on both SQL stores.
func TestCitizenExportAndErasure(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		f := newStatsFixture(t, dsn)
		c1 := f.cit["C1"]
		f.must(t, 200, "mads", "GET", fmt.Sprintf("/api/v1/citizens/%d", c1), "")
		// The manager gets an activation code for the letter; the citizen exchanges it.
		letter := f.must(t, 201, "mads", "POST", fmt.Sprintf("/api/v1/citizens/%d/activation", c1), "")
		tok := f.must(t, 201, "", "POST", "/api/v1/activate", `{"code":"`+letter["activation_code"].(string)+`"}`)
		f.tokens["c1"] = tok["token"].(string)

		code, body, _ := f.get(t, "c1", "/api/v1/me/data?from=2026-01-01&to=2026-02-01", "")
		if code != 200 {
			t.Fatalf("export: %d %s", code, body)
		}
		var x registry.Export
		if err := json.Unmarshal([]byte(body), &x); err != nil {
			t.Fatal(err)
		}
		if x.Citizen.Name != "C1 Testesen" || x.Citizen.KeyBoxNote != "kode 120" || len(x.Citizen.Contacts) != 1 || x.Citizen.Contacts[0].Name != "Datter af C1" {
			t.Errorf("record: %+v", x.Citizen)
		}
		var got []string
		for _, h := range x.Homes {
			got = append(got, "home "+string(h.ID))
		}
		for _, d := range x.Devices {
			got = append(got, fmt.Sprintf("device %s %s %s", d.ID, d.Technology, d.State))
		}
		for _, a := range x.Alerts {
			got = append(got, fmt.Sprintf("alert %s %s %s", a.Type, a.RaisedAt.Format("2006-01-02T15:04"), a.Outcome))
		}
		for _, r := range x.Telemetry {
			got = append(got, fmt.Sprintf("reading %s %s %s %s %g", r.Time.Format("2006-01-02T15:04:05"), r.Gateway, r.Device, r.Kind, r.Value))
		}
		for _, e := range x.AccessLog {
			got = append(got, fmt.Sprintf("access %s %s", e.Actor, e.Action))
		}
		sameLines(t, "export", got, []string{
			"home home-c1",
			"device env-1 environment_sensor pending",
			"device md-1 medicine_dispenser installed",
			"device pa-1 personal_alarm installed",
			"alert panic 2026-02-03T10:00 visited_all_well",
			"alert low_battery 2026-02-06T10:00 ",
			"reading 2026-01-01T00:00:00 gw-1 pa-1 battery 97",
			"reading 2026-01-05T08:00:00 gw-1 md-1 medication_taken 1",
			"access mads citizen.create",
			"access anna alert.ack",
			"access anna alert.note",
			"access anna alert.take", // "arrived" by anna, who had not taken it: take-and-arrive
			"access anna alert.arrive",
			"access anna alert.resolve",
			"access mads citizen.read",
			"access mads activation.create",
			"access citizen-" + fmt.Sprint(c1) + " activation.use",
			"access citizen-" + fmt.Sprint(c1) + " citizen.export",
		})

		// The zip: one CSV per part; the access log now has both exports.
		code, body, h := f.get(t, "c1", "/api/v1/me/data?from=2026-01-01&to=2026-02-01", "application/zip")
		if code != 200 || h.Get("Content-Type") != "application/zip" {
			t.Fatalf("zip: %d %s", code, h.Get("Content-Type"))
		}
		zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][][]string{}
		for _, zf := range zr.File {
			rc, _ := zf.Open()
			recs, err := csv.NewReader(rc).ReadAll()
			rc.Close()
			if err != nil {
				t.Fatalf("%s: %v", zf.Name, err)
			}
			files[zf.Name] = recs
		}
		if len(files) != 9 || len(files["night_checks.csv"]) != 1 || len(files["gps_positions.csv"]) != 1 || len(files["telemetry.csv"]) != 3 || strings.Join(files["telemetry.csv"][2], ",") != "2026-01-05T08:00:00Z,gw-1,md-1,medication_taken,1" ||
			files["citizen.csv"][1][2] != "C1 Testesen" || len(files["alerts.csv"]) != 3 || len(files["access_log.csv"]) != 12 {
			t.Errorf("zip files: %v", files)
		}

		// The period is half-open: a reading stamped exactly at "to" is not in it
		// (InfluxDB 1.8's range() keeps a point at stop; the query stops a nanosecond before).
		code, body, _ = f.get(t, "c1", "/api/v1/me/data?from=2026-01-01&to=2026-01-05T08:00:00Z", "")
		var upTo registry.Export
		if err := json.Unmarshal([]byte(body), &upTo); code != 200 || err != nil {
			t.Fatalf("export up to 08:00: %d %v %s", code, err, body)
		}
		if len(upTo.Telemetry) != 1 || upTo.Telemetry[0].Device != "pa-1" {
			t.Errorf("export up to the medication reading's instant: %+v, want only pa-1's battery", upTo.Telemetry)
		}

		// Erasure.
		gw2Before := influxCount(t, f.influx, "gw-2")
		if influxCount(t, f.influx, "gw-1") != 6 || gw2Before != 2 {
			t.Fatalf("telemetry before erasure: gw-1 %d, gw-2 %d", influxCount(t, f.influx, "gw-1"), gw2Before)
		}
		e := f.must(t, 200, "admin", "DELETE", fmt.Sprintf("/api/v1/citizens/%d", c1), "")
		if fmt.Sprint(e["gateways"]) != "[gw-1]" || e["contacts_deleted"].(float64) != 1 || e["alerts_anonymised"].(float64) != 2 || e["telemetry_deleted"] != true {
			t.Errorf("erasure: %v", e)
		}
		if n := influxCount(t, f.influx, "gw-1"); n != 0 {
			t.Errorf("gw-1 has %d readings after erasure", n)
		}
		if n := influxCount(t, f.influx, "gw-2"); n != gw2Before {
			t.Errorf("another citizen's telemetry went too: gw-2 %d, was %d", n, gw2Before)
		}
		// Nothing personal is left in the SQL store.
		db := openRaw(t, dsn)
		for _, q := range []string{
			`SELECT COUNT(*) FROM citizens WHERE name LIKE '%C1 Testesen%' OR address <> '' AND id = ? OR key_box_note <> '' AND id = ?`,
			`SELECT COUNT(*) FROM contacts WHERE citizen_id = ? OR citizen_id = ? OR name LIKE '%C1%'`,
			`SELECT COUNT(*) FROM alert_notes WHERE text LIKE '%Testesen%' AND (1 = ? OR 1 = ?)`,
			`SELECT COUNT(*) FROM citizen_users WHERE citizen_id = ? OR citizen_id = ?`,
			`SELECT COUNT(*) FROM alerts WHERE home_id = 'home-c1' AND (acked_by <> '' OR resolved_by <> '' OR details <> '') AND (1 = ? OR 1 = ?)`,
		} {
			var n int
			if err := db.QueryRow(rebind(dsn, q), c1, c1).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s: %d left (%v)", q, n, err)
			}
		}
		// The citizen's login is gone, the erasure is audited, the counts stay.
		if code, _, _ := f.get(t, "c1", "/api/v1/me/data?from=2026-01-01&to=2026-02-01", ""); code != 401 && code != 403 {
			t.Errorf("the erased citizen's token still answers %d", code)
		}
		audit := f.must(t, 200, "admin", "GET", fmt.Sprintf("/api/v1/audit?object=citizen/%d", c1), "")
		if entries := audit["entries"].([]any); entries[0].(map[string]any)["action"] != "citizen.erase" {
			t.Errorf("audit: %v", entries[0])
		}
		a := f.adoption(t, "mads", "from=2026-01-01&to=2026-02-01&technology=medicine_dispenser")
		if r := a.Rows[0]; *r.Citizens != 5 || *r.DevicesInstalled != 5 || *r.DevicesActive != 3 {
			t.Errorf("after erasure: citizens %d, installed %d, active %d; want 5, 5, 3 (md-1's readings are gone)", *r.Citizens, *r.DevicesInstalled, *r.DevicesActive)
		}
	})
}

func openRaw(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver := "sqlite"
	if strings.HasPrefix(dsn, "postgres") {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rebind(dsn, q string) string {
	if !strings.HasPrefix(dsn, "postgres") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
