package web_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/server"
)

// statsFixture answers the statistics endpoints (and the municipality list) with figures
// shaped as api/openapi.yaml describes them, so the dashboard's drawing of known figures is checked apart from how
// the API computes them (TestDashboardLive does that against the real endpoints).
type statsFixture struct {
	mu      sync.Mutex
	queries []url.Values // every statistics request's query
	accepts []string
	// suppressAlerts answers a municipality's alert total as suppressed (the national view).
	suppressAlerts bool
}

var fixtureMonths = []string{"2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"}

func (f *statsFixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.Query())
	f.accepts = append(f.accepts, r.Header.Get("Accept"))
	f.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer vagt_") {
		http.Error(w, `{"error":{"code":"unauthenticated","message":"no token"}}`, http.StatusUnauthorized)
		return
	}
	view := strings.TrimPrefix(r.URL.Path, "/api/v1/stats/")
	if r.Header.Get("Accept") == "text/csv" {
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprintf(w, "municipality,interval_start\n766,%s\n766,%s\n766,%s\n", fixtureMonths[0], fixtureMonths[1], fixtureMonths[2])
		return
	}
	var body any
	period := map[string]any{"from": "2026-09-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "interval": "month"}
	end := func(i int) string {
		if i+1 < len(fixtureMonths) {
			return fixtureMonths[i+1]
		}
		return "2026-12-01T00:00:00Z"
	}
	switch view {
	case "adoption":
		var rows []map[string]any
		for i, m := range fixtureMonths {
			rows = append(rows,
				map[string]any{"municipality": 766, "municipality_name": "Hedensted", "region": 1082, "technology": "personal_alarm",
					"interval_start": m, "interval_end": end(i), "citizens": 100 + 20*i, "citizens_active": 90 + 20*i,
					"devices_installed": 110 + 20*i, "devices_active": 95 + 20*i, "new_installations": 20, "removals": 0, "churn_90d": 0, "suppressed": false},
				map[string]any{"municipality": 766, "municipality_name": "Hedensted", "region": 1082, "technology": "medicine_dispenser",
					"interval_start": m, "interval_end": end(i), "citizens": 30 + 5*i, "citizens_active": 25 + 5*i,
					"devices_installed": 30 + 5*i, "devices_active": 20 + 5*i, "new_installations": 5, "removals": 0, "churn_90d": 0, "suppressed": false})
		}
		funnel := []map[string]any{
			{"municipality": 766, "technology": "personal_alarm", "registered": 400, "installed": 140, "active": 130, "still_active_90d": 100, "suppressed": false},
			{"municipality": 766, "technology": "medicine_dispenser", "registered": 400, "installed": 40, "active": 35, "still_active_90d": 20, "suppressed": false},
		}
		body = map[string]any{"period": period, "rows": rows, "funnel": funnel,
			"totals":        fixtureTotals(rows, []string{"citizens", "citizens_active", "devices_installed", "devices_active", "new_installations", "removals", "churn_90d"}, true),
			"funnel_totals": funnel}
	case "alerts":
		var rows []map[string]any
		for i, m := range fixtureMonths {
			rows = append(rows, map[string]any{"municipality": 766, "municipality_name": "Hedensted", "interval_start": m, "interval_end": end(i),
				"citizens": 130, "alarms": 40 + i, "alarms_per_citizen_month": 0.31, "acked_within_60s_share": 0.75, "acked_within_180s_share": 0.95,
				"ack_p50_s": 38.0, "ack_p90_s": 150.0, "resolve_p50_s": 1260.0, "resolve_p90_s": 3000.0, "resolved": 40, "false_alarm_share": 0.1,
				"without_visit_share": 0.2, "escalations": 2, "escalated_alerts": 2, "suppressed": false,
				"arrived_within_30m_share": 0.85, "arrival_p50_s": 840.0})
		}
		totals := fixtureTotals(rows, nil, false)
		f.mu.Lock()
		suppressed := f.suppressAlerts
		f.mu.Unlock()
		if suppressed && r.URL.Query().Get("municipality") == "766" {
			// The national view of one municipality whose alert total describes 1-4 citizens:
			// every figure of it null, the total suppressed (issue 18: it showed "0 %").
			totals = append(totals, map[string]any{"interval_start": period["from"], "interval_end": period["to"], "whole_period": true,
				"suppressed": true, "alarms": nil, "acked_within_60s_share": nil, "acked_within_180s_share": nil})
			body = map[string]any{"period": period, "rows": rows, "totals": totals}
			break
		}
		totals = append(totals, map[string]any{"interval_start": period["from"], "interval_end": period["to"], "whole_period": true,
			"citizens": 130, "alarms": 123, "acked_within_60s_share": 0.75, "acked_within_180s_share": 0.95, "ack_p50_s": 38.0, "ack_p90_s": 150.0,
			"resolve_p50_s": 1260.0, "resolve_p90_s": 3000.0, "false_alarm_share": 0.1, "escalations": 6, "suppressed": false,
			"arrived_within_30m_share": 0.85, "arrival_p50_s": 840.0})
		body = map[string]any{"period": period, "rows": rows, "totals": totals}
	case "benefits":
		var rows []map[string]any
		for i, m := range fixtureMonths {
			rows = append(rows, map[string]any{"municipality": 766, "municipality_name": "Hedensted", "technology": "personal_alarm",
				"interval_start": m, "interval_end": end(i), "citizens_active": 90, "devices_installed": 110, "new_installations": 20,
				"visits_avoided": 400.0, "hours_saved": 100.0, "gross_dkk": 50000.0, "one_off_cost_dkk": 10000.0, "running_cost_dkk": 5000.0,
				"net_dkk": 35000.0, "suppressed": false})
		}
		money := []string{"visits_avoided", "hours_saved", "gross_dkk", "one_off_cost_dkk", "running_cost_dkk", "net_dkk"}
		totals := fixtureTotals(rows, money, true)
		whole := map[string]any{"interval_start": period["from"], "interval_end": period["to"], "whole_period": true, "suppressed": false}
		for _, k := range money {
			whole[k] = 3 * rows[0][k].(float64)
		}
		body = map[string]any{"period": period, "estimate": true, "rows": rows, "totals": append(totals, whole), "model": map[string]any{
			"name": "fixture model", "currency": "DKK", "illustrative": true,
			"assumptions": []string{"A personal alarm avoids one supervision visit a week."},
			"technologies": map[string]any{"personal_alarm": map[string]any{"visits_avoided_per_citizen_week": 1, "minutes_per_visit": 15,
				"hourly_cost_dkk": 500, "one_off_cost_dkk": 500, "running_cost_dkk_per_device_month": 45}},
		}}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// fixtureTotals is the totals an answer of one municipality carries: per interval, the
// rows' figures (per technology when byTech, and over all of them). With one municipality
// and nothing suppressed a total is the sum of its rows; the api computes it apart
// (api/stats/totals.go), and the dashboard draws totals, never sums of rows.
func fixtureTotals(rows []map[string]any, keys []string, byTech bool) []map[string]any {
	var out []map[string]any
	add := func(start string, tech any, match func(map[string]any) bool) {
		t := map[string]any{"interval_start": start, "municipalities": 1, "suppressed": false}
		if tech != nil {
			t["technology"] = tech
		}
		for _, r := range rows {
			if r["interval_start"] != start || !match(r) {
				continue
			}
			t["interval_end"] = r["interval_end"]
			for k, v := range r {
				if keys != nil && !slices.Contains(keys, k) {
					continue
				}
				switch n := v.(type) {
				case int:
					old, _ := t[k].(int)
					t[k] = old + n
				case float64:
					old, _ := t[k].(float64)
					t[k] = old + n
				}
			}
		}
		out = append(out, t)
	}
	for _, m := range fixtureMonths {
		if byTech {
			for _, tech := range []string{"personal_alarm", "medicine_dispenser"} {
				add(m, tech, func(r map[string]any) bool { return r["technology"] == tech })
			}
		}
		add(m, nil, func(map[string]any) bool { return true })
	}
	return out
}

func (f *statsFixture) last() (url.Values, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) == 0 {
		return nil, ""
	}
	return f.queries[len(f.queries)-1], f.accepts[len(f.accepts)-1]
}

// TestDashboardDrawsFigures: the dashboard page, served by a real vagt api and signed in
// with a real manager token, draws the statistics it loads — each chart's points and bars
// carry the loaded figures, the benefit shows its model's assumptions, and each view
// downloads as CSV; a national user picks a municipality.
func TestDashboardDrawsFigures(t *testing.T) {
	b := newBrowser(t)
	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db")}, server.Deps{})
	tokens := map[string]string{}
	for name, p := range map[string]api.Principal{
		"mette": {Role: api.RoleManager, Municipality: 766},
		"nina":  {Role: api.RoleNational},
	} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		p.Name = name
		if _, err := srv.Store.IssueToken(t.Context(), p, hash, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	target, _ := url.Parse("http://" + srv.Addr())
	fixture := &statsFixture{}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/stats/", fixture)
	mux.HandleFunc("/api/v1/municipalities", func(w http.ResponseWriter, r *http.Request) {
		var list []map[string]any
		for _, m := range vagt.Municipalities() {
			list = append(list, map[string]any{"code": m.Code, "name": m.Name, "region": m.Region})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"municipalities": list})
	})
	mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	front := startHTTP(t, mux)

	b.do("open the dashboard", chromedp.Navigate(front+"/stats"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in as a manager",
		chromedp.SendKeys("#token", tokens["mette"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the figures loaded", `document.body.dataset.loaded === "true"`)
	if q, _ := fixture.last(); q.Get("interval") != "month" || q.Get("from") == "" || q.Get("to") == "" {
		t.Fatalf("the dashboard asked for %v", q)
	}

	// Each chart carries the loaded figures.
	var got map[string][]float64
	b.do("read the charts", chromedp.Evaluate(`(() => {
		const vals = (sel) => [...document.querySelectorAll(sel)].map(e => Number(e.dataset.value));
		return {
			alarm: vals('[data-chart=adoption] g[data-series="personal_alarm"] circle'),
			dispenser: vals('[data-chart=adoption] g[data-series="medicine_dispenser"] circle'),
			installed: vals('[data-chart=devices] g[data-series="installed"] rect'),
			active: vals('[data-chart=devices] g[data-series="active"] rect'),
			funnelInstalled: vals('[data-chart=funnel] g[data-series="installed"] rect'),
			alarms: vals('[data-chart=alerts] g[data-series="alarms"] rect'),
			net: vals('[data-chart=benefits] g[data-series="net"] rect'),
		};
	})()`, &got))
	want := map[string][]float64{
		"alarm": {100, 120, 140}, "dispenser": {30, 35, 40},
		"installed": {140, 165, 190}, "active": {115, 140, 165},
		"funnelInstalled": {140, 40}, "alarms": {40, 41, 42}, "net": {35000, 35000, 35000},
	}
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("%s: the chart shows %v, loaded %v", k, got[k], w)
		}
	}
	var figures string
	b.do("read the figures", chromedp.Evaluate(`document.getElementById("panels").innerText`, &figures))
	// Danish numbers from the one formatter: "150.000 kr.", never "150,000" or "DKK"; a
	// share as "75 %"; durations as "38 s" and "21 min"; the legend and the table in Danish.
	for _, s := range []string{"123", "75\u00a0%", "38 s", "2 min 30 s", "21 min", "150.000\u00a0kr.", "45.000\u00a0kr.", "+105.000\u00a0kr.", "300",
		"A personal alarm avoids one supervision visit a week.", "fixture model", "illustrative", "Nødkald", "Medicindispenser", "Tallene som tabel",
		"fremme inden for 30 min", "85\u00a0%", "14 min"} { // the last three: arrival (presence)
		if !strings.Contains(figures, s) {
			t.Errorf("the dashboard does not show %q", s)
		}
	}
	for _, s := range []string{"150,000", "DKK", "Personal alarm", "%!"} {
		if strings.Contains(figures, s) {
			t.Errorf("the Danish dashboard shows %q", s)
		}
	}
	// Where the figures come from (issue 18 item 4).
	var sources string
	b.do("read the sources", chromedp.Evaluate(`document.getElementById("panel-sources").innerText`, &sources))
	for _, s := range []string{"Perioden: 1. sep. 2026 til 1. dec. 2026", "fixture model, hvis tal er illustrative", "Tallene er præcise", "0 rækker er skjult"} {
		if !strings.Contains(sources, s) {
			t.Errorf("where the figures come from does not say %q:\n%s", s, sources)
		}
	}
	checkWidths(t, b, "the Danish dashboard")
	var mun string
	var disabled bool
	b.do("the manager's municipality", chromedp.Evaluate(`document.getElementById("municipality").selectedOptions[0].textContent`, &mun),
		chromedp.Evaluate(`document.getElementById("municipality").disabled`, &disabled))
	if !strings.Contains(mun, "766") || !disabled {
		t.Errorf("a manager's municipality picker: %q disabled=%v", mun, disabled)
	}
	b.screenshot("dashboard")

	// CSV of a view: the same query with Accept: text/csv.
	b.do("download the alert CSV", chromedp.Click(`#panel-alerts button[data-csv]`, chromedp.ByQuery))
	b.waitJS("the download", `document.getElementById("dash-status").textContent.includes("vagt-alerts-")`)
	if _, accept := fixture.last(); accept != "text/csv" {
		t.Errorf("the CSV was asked for with Accept %q", accept)
	}

	// The same manager in the care console gets the list read-only (the API refuses
	// managers the actions and who and where).
	b.do("the console as a manager", chromedp.Navigate(front+"/"), chromedp.WaitVisible("#read-only", chromedp.ByID))
	b.do("back to the dashboard", chromedp.Navigate(front+"/stats"))
	b.waitJS("the figures loaded", `document.body.dataset.loaded === "true"`)

	// A national user picks a municipality.
	b.do("sign out", chromedp.Click("#sign-out", chromedp.ByID), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in as national",
		chromedp.SendKeys("#token", tokens["nina"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the figures loaded", `document.body.dataset.loaded === "true"`)
	b.waitJS("the picker lists the municipalities", `document.querySelectorAll("#municipality option").length > 90 && !document.getElementById("municipality").disabled`)
	fixture.mu.Lock()
	fixture.suppressAlerts = true
	fixture.mu.Unlock()
	b.do("pick Hedensted", chromedp.SetValue("#municipality", "766", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("municipality").dispatchEvent(new Event("change"))`, nil))
	waitFor(t, "a query for municipality 766", func() bool { q, _ := fixture.last(); return q.Get("municipality") == "766" })
	b.waitJS("the figures loaded", `document.body.dataset.loaded === "true"`)
	var alertFigures string
	var why []string
	b.do("the suppressed alert total", chromedp.Evaluate(`document.querySelector('[data-figures="alerts"]').innerText`, &alertFigures),
		chromedp.Evaluate(`[...document.querySelectorAll('[data-figures="alerts"] .hidden-figure')].map(b => b.title)`, &why))
	if strings.Contains(alertFigures, "%") || len(why) < 3 || !strings.Contains(why[1], "færre end 5 borgere") {
		t.Errorf("a suppressed total's shares: %q, reasons %q (want '—' with why, never '0 %%')", alertFigures, why)
	}
	b.do("phone size", chromedp.EmulateViewport(390, 844))
	b.do("scroll to the charts", chromedp.ScrollIntoView("#panel-adoption", chromedp.ByID))
	b.screenshotViewport("dashboard-phone")
	b.do("desktop size", chromedp.EmulateViewport(1280, 900))

	// English by the switch (the page reloads and keeps the session): the same figures in
	// English formats.
	b.chooseLanguageReload("en")
	b.waitJS("the figures in English", `document.documentElement.lang === "en" && document.body.dataset.loaded === "true"`)
	b.do("read the figures", chromedp.Evaluate(`document.getElementById("panels").innerText`, &figures))
	for _, s := range []string{"75%", "DKK\u00a0150,000", "DKK\u00a0+105,000", "Personal alarm", "Figures as a table", "alarms in the period"} {
		if !strings.Contains(figures, s) {
			t.Errorf("the English dashboard does not show %q", s)
		}
	}
	checkWidths(t, b, "the English dashboard")
	b.checkErrors()
}

// checkWidths: at a phone's 360 px and a desktop's 1400 px nothing on the page is wider
// than the page, and no key figure is cut off (issue 18: "−107.398 kr" was, at 1400 px).
func checkWidths(t *testing.T, b *browser, what string) {
	t.Helper()
	for _, w := range []int64{360, 1400} {
		b.do("width "+fmt.Sprint(w), chromedp.EmulateViewport(w, 900))
		var cut []string
		b.do("find what is cut off", chromedp.Evaluate(`(() => {
			const out = [];
			const doc = document.documentElement;
			if (doc.scrollWidth > doc.clientWidth) out.push("the page: " + doc.scrollWidth + " > " + doc.clientWidth);
			for (const e of document.querySelectorAll(".figure, .figure .v, .figure .k, .panel, .panel-head, .legend, .dash-controls, .top, .chart-box")) {
				if (e.scrollWidth > e.clientWidth + 1) out.push(e.className + " " + JSON.stringify(e.textContent.slice(0, 40)) + ": " + e.scrollWidth + " > " + e.clientWidth);
			}
			return out;
		})()`, &cut))
		for _, c := range cut {
			t.Errorf("%s at %d px: cut off: %s", what, w, c)
		}
	}
	b.do("desktop size", chromedp.EmulateViewport(1280, 900))
}

func startHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ln, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
