package httpapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestResolveOfAStaleViewOverHTTP: anna reads the alert (one press) and decides "false
// alarm"; the citizen presses again before she submits. Her resolve "as seen at count 1" is
// 409 stale and changes nothing (not resolved, not audited as resolved); read again, her
// resolve as seen at count 2 closes it. Before, the resolve closed the second press too.
func TestResolveOfAStaleViewOverHTTP(t *testing.T) {
	f := newFixture(t)
	a := fmt.Sprintf("/api/v1/alerts/%d", f.alert)
	code, body := f.do(t, "anna", "GET", a, "")
	if code != 200 || body["count"] != float64(1) {
		t.Fatalf("read: %d %v", code, body)
	}
	f.clock.Advance(20 * time.Second)
	if _, err := f.store.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: "gw-0001", Seq: 2, Municipality: 766, Time: f.clock.Now(), Device: "btn",
		Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Second)
	code, body = f.do(t, "anna", "POST", a+"/resolve", `{"outcome":"false_alarm","note":"pressed by mistake","seen":{"count":1}}`)
	if e, _ := body["error"].(map[string]any); code != 409 || e["code"] != "stale" {
		t.Fatalf("resolve as seen at count 1 after a second press: %d %v, want 409 stale", code, body)
	}
	code, body = f.do(t, "anna", "GET", a, "")
	if code != 200 || body["state"] != "open" || body["count"] != float64(2) || body["outcome"] != nil || len(body["notes"].([]any)) != 0 {
		t.Fatalf("after the refused resolve: %d %v, want open with count 2, no outcome, no note", code, body)
	}
	code, audit := f.do(t, "admin", "GET", fmt.Sprintf("/api/v1/audit?object=alert/%d", f.alert), "")
	entries, _ := audit["entries"].([]any)
	if code != 200 || len(entries) == 0 {
		t.Fatalf("audit of the alert: %d %v", code, audit)
	}
	for _, e := range entries {
		if e.(map[string]any)["action"] == "alert.resolve" {
			t.Errorf("audited as resolved by the refused resolve: %v", e)
		}
	}
	code, body = f.do(t, "anna", "POST", a+"/resolve", `{"outcome":"visited_help_given","seen":{"count":2}}`)
	if code != 200 || body["state"] != "resolved" || body["outcome"] != "visited_help_given" {
		t.Fatalf("resolve as seen at count 2: %d %v", code, body)
	}
}

// TestResolveNeedsWhatWasSeen: a resolve that does not say what the caller saw, or names a
// count the alert never had, is 400 invalid naming the field, and changes nothing.
func TestResolveNeedsWhatWasSeen(t *testing.T) {
	f := newFixture(t)
	a := fmt.Sprintf("/api/v1/alerts/%d", f.alert)
	for _, b := range []string{
		`{"outcome":"false_alarm"}`,
		`{"outcome":"false_alarm","seen":{}}`,
		`{"outcome":"false_alarm","seen":{"count":0}}`,
		`{"outcome":"false_alarm","seen":{"count":2}}`,
	} {
		code, body := f.do(t, "anna", "POST", a+"/resolve", b)
		if e, _ := body["error"].(map[string]any); code != 400 || e["code"] != "invalid" || e["field"] != "seen.count" {
			t.Errorf("resolve %s: %d %v, want 400 invalid naming seen.count", b, code, body)
		}
	}
	if code, body := f.do(t, "anna", "GET", a, ""); code != 200 || body["state"] != "open" {
		t.Fatalf("after the refused resolves: %d %v, want open", code, body)
	}
}
