package security

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/vagt-dk/vagt/api/auth"
)

func openDB(t *testing.T, w *world) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", w.dbPath)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// No token is in the database as it was issued: only its hash, which is what the api
// looks a bearer token up by.
func TestTokensStoredHashed(t *testing.T) {
	w := startWorld(t)
	db := openDB(t, w)
	hashes := map[string]bool{}
	rows, err := db.QueryContext(t.Context(), `SELECT hash FROM tokens`)
	must(t, err)
	for rows.Next() {
		var h string
		must(t, rows.Scan(&h))
		hashes[h] = true
	}
	must(t, rows.Err())
	rows.Close()
	for who, tok := range w.tokens {
		if hashes[tok] {
			t.Errorf("%s's token is stored in plain text", who)
		}
		if !hashes[auth.HashToken(tok)] {
			t.Errorf("%s's token hash is not in the tokens table", who)
		}
	}
	// Nowhere else either: every text column of every table.
	tables, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'table'`)
	must(t, err)
	var names []string
	for tables.Next() {
		var n string
		must(t, tables.Scan(&n))
		names = append(names, n)
	}
	tables.Close()
	for _, table := range names {
		rows, err := db.QueryContext(t.Context(), `SELECT * FROM "`+table+`"`)
		must(t, err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			for _, v := range vals {
				var s string
				switch v := v.(type) {
				case string:
					s = v
				case []byte:
					s = string(v)
				}
				for who, tok := range w.tokens {
					if s != "" && strings.Contains(s, tok) {
						t.Errorf("table %s holds %s's token in plain text", table, who)
					}
				}
			}
		}
		rows.Close()
	}
}

// Every read of personal data leaves an audit entry naming the reader, the action and the
// object; every one of these reads succeeds (InfluxDB is there for the export).
func TestPersonalDataReadsAudited(t *testing.T) {
	w := startWorld(t)
	db := openDB(t, w)
	count := func(actor, action, object string) int {
		var n int
		must(t, db.QueryRowContext(t.Context(), `SELECT count(*) FROM audit WHERE actor = ? AND action = ? AND object = ?`,
			actor, action, object).Scan(&n))
		return n
	}
	citizen := "citizen/" + itoa(w.citizen)
	reads := []struct{ who, path, action, object string }{
		{"staff-nord", "/api/v1/alerts/" + itoa(w.alert), "alert.read", "alert/" + itoa(w.alert)},
		{"manager", "/api/v1/citizens/" + itoa(w.citizen), "citizen.read", citizen},
		{"manager", "/api/v1/citizens", "citizen.list", "municipality/766"},
		{"admin", "/api/v1/citizens?municipality=766", "citizen.list", "municipality/766"},
		{"citizen", "/api/v1/me/data?from=" + time.Now().AddDate(0, 0, -7).UTC().Format(time.RFC3339) +
			"&to=" + time.Now().UTC().Format(time.RFC3339), "citizen.export", citizen},
		{"staff-nord", "/api/v1/homes/" + w.home + "/config", "homeconfig.read", "home/" + w.home},
		{"manager", "/api/v1/homes/" + w.home + "/config/history", "homeconfig.history", "home/" + w.home},
	}
	for _, r := range reads {
		var me struct{ Name string }
		if code := w.call(t, r.who, http.MethodGet, "/api/v1/me", "", &me); code != http.StatusOK || me.Name == "" {
			t.Fatalf("/me as %s: %d %+v", r.who, code, me)
		}
		before := count(me.Name, r.action, r.object)
		if code := w.call(t, r.who, http.MethodGet, r.path, "", nil); code != http.StatusOK {
			t.Errorf("%s could not read %s: %d", r.who, r.path, code)
			continue
		}
		if n := count(me.Name, r.action, r.object); n != before+1 {
			t.Errorf("%s (%s) read %s: %d new audit entries %s %s, want 1", r.who, me.Name, r.path, n-before, r.action, r.object)
		}
	}
}

// Pages and API answers carry security headers; an oversized body is refused, not read.
func TestSecurityHeadersAndBodyLimits(t *testing.T) {
	w := startWorld(t)
	_, h, _ := w.do(t, "", http.MethodGet, "/", "")
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if got := h.Get(k); got != want {
			t.Errorf("console page: %s %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src") {
		t.Errorf("console page: Content-Security-Policy %q", h.Get("Content-Security-Policy"))
	}
	_, h, _ = w.do(t, "staff-nord", http.MethodGet, "/api/v1/alerts/"+itoa(w.alert), "")
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("API answer Content-Type %q", ct)
	}
	// An answer with personal data is neither cached (a shared computer, a proxy) nor sniffed.
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := h.Get(k); got != want {
			t.Errorf("personal-data API answer: %s %q, want %q", k, got, want)
		}
	}
	if _, h, _ = w.do(t, "", http.MethodGet, "/api/v1/alerts", ""); h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("a refused API request: Cache-Control %q, X-Content-Type-Options %q", h.Get("Cache-Control"), h.Get("X-Content-Type-Options"))
	}
	big := `{"text":"` + strings.Repeat("x", 8<<20) + `"}`
	code, _, _ := w.do(t, "staff-nord", http.MethodPost, "/api/v1/alerts/"+itoa(w.alert)+"/notes", big)
	if code != http.StatusRequestEntityTooLarge && code != http.StatusBadRequest {
		t.Errorf("an 8 MiB note: %d, want 413 (or 400)", code)
	}
	// The api is still there.
	if code := w.call(t, "staff-nord", http.MethodGet, "/api/v1/me", "", nil); code != http.StatusOK {
		t.Errorf("after the big body: /me %d", code)
	}
}
