package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/api/stats"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestDashboardLive: the dashboard against the real statistics of a real vagt api (SQLite
// store, InfluxDB 1.8 for the devices' readings). A manager's registry is loaded through
// the API, readings go to InfluxDB and alarms into the store; the charts must show what the
// API answers for the same query, and the CSV must be the API's.
func TestDashboardLive(t *testing.T) {
	b := newBrowser(t)
	influxDB := stacktest.SharedInfluxDB(t)
	clock := api.NewManualClock(time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC))
	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"),
		Influx: influx.Config{URL: influxDB.URL, Org: influxDB.Org, Bucket: influxDB.Bucket, Token: influxDB.Token}}, server.Deps{Clock: clock})
	base := "http://" + srv.Addr()
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Store.IssueToken(t.Context(), api.Principal{Name: "mads", Role: api.RoleManager, Municipality: 766}, hash, nil, clock.Now()); err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body, accept string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	must := func(want int, method, path, body string) map[string]any {
		t.Helper()
		code, b := call(method, path, body, "")
		if code != want {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}

	// The registry: three homes in Hedensted, personal alarms and a medicine dispenser.
	nord := int64(must(201, "POST", "/api/v1/districts", `{"name":"Nord"}`)["id"].(float64))
	var lines bytes.Buffer
	for i, h := range []struct {
		devices [][3]string // id, technology, installed
	}{
		{[][3]string{{"pa-1", "personal_alarm", "2026-01-05"}, {"md-1", "medicine_dispenser", "2026-01-05"}}},
		{[][3]string{{"pa-2", "personal_alarm", "2026-02-10"}}},
		{[][3]string{{"pa-3", "personal_alarm", "2026-03-02"}}},
	} {
		cit := int64(must(201, "POST", "/api/v1/citizens", fmt.Sprintf(`{"name":"Borger %d","address":"Vej %d, 8722 Hedensted","key_box_note":"","contacts":[]}`, i, i))["id"].(float64))
		home, gw := fmt.Sprintf("home-%d", i), fmt.Sprintf("gw-%d", i)
		must(201, "POST", "/api/v1/homes", fmt.Sprintf(`{"id":"%s","district":%d,"citizen":%d}`, home, nord, cit))
		must(201, "POST", "/api/v1/gateways", fmt.Sprintf(`{"id":"%s","home":"%s"}`, gw, home))
		for _, d := range h.devices {
			must(201, "POST", "/api/v1/devices", fmt.Sprintf(`{"id":"%s","gateway":"%s","technology":"%s","label":"x","installed_at":"%sT00:00:00Z"}`, d[0], gw, d[1], d[2]))
			installed, _ := time.Parse(time.DateOnly, d[2])
			for at := installed.Add(36 * time.Hour); at.Before(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)); at = at.Add(9 * 24 * time.Hour) {
				fmt.Fprintf(&lines, "reading,dev=%s,gw=%s,kind=battery,mun=766,tech=%s value=90 %d\n", d[0], gw, d[1], at.Unix())
			}
		}
	}
	resp, err := http.Post(influxDB.URL+"/write?precision=s&db="+influxDB.Database, "text/plain", &lines)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("influx write: %s", resp.Status)
	}
	// Alarms: acknowledged in 30 s, 90 s and 5 min, resolved.
	all := api.Scope{All: true}
	for i, wait := range []time.Duration{30 * time.Second, 90 * time.Second, 5 * time.Minute} {
		at := time.Date(2026, time.Month(1+i), 20, 3, 0, 0, 0, time.UTC)
		r, err := srv.Store.IngestAlarm(t.Context(), &vagt.Alarm{Gateway: "gw-0", Seq: uint64(i + 1), Municipality: 766, Time: at, Device: "pa-1",
			Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Store.Ack(t.Context(), r.Alert.ID, "anna", all, at.Add(wait)); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Store.Resolve(t.Context(), r.Alert.ID, "anna", all, alerts.OutcomeVisitedAllWell, "", at.Add(wait+20*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}

	const q = "from=2026-01-01&to=2026-04-01&interval=month"
	var adoption stats.Adoption
	if code, b := call("GET", "/api/v1/stats/adoption?"+q, "", ""); code != 200 || json.Unmarshal(b, &adoption) != nil {
		t.Fatalf("adoption: %d %s", code, b)
	}
	var benefits stats.Benefits
	if code, b := call("GET", "/api/v1/stats/benefits?"+q, "", ""); code != 200 || json.Unmarshal(b, &benefits) != nil {
		t.Fatalf("benefits: %d %s", code, b)
	}
	var alertStats stats.AlertStats
	if code, b := call("GET", "/api/v1/stats/alerts?"+q, "", ""); code != 200 || json.Unmarshal(b, &alertStats) != nil {
		t.Fatalf("alerts: %d %s", code, b)
	}
	// What the charts must show: per interval, summed over the rows.
	sumBy := func(n int, pick func(i int) (string, *int)) []float64 {
		byStart := map[string]float64{}
		for i := range n {
			start, v := pick(i)
			if v != nil {
				byStart[start] += float64(*v)
			}
		}
		var keys []string
		for k := range byStart {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]float64, len(keys))
		for i, k := range keys {
			out[i] = byStart[k]
		}
		return out
	}
	start := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	want := map[string][]float64{
		"alarm": sumBy(len(adoption.Rows), func(i int) (string, *int) {
			r := adoption.Rows[i]
			if r.Technology != vagt.TechPersonalAlarm {
				return "", nil
			}
			return start(r.Start), r.Citizens
		}),
		"installed": sumBy(len(adoption.Rows), func(i int) (string, *int) { return start(adoption.Rows[i].Start), adoption.Rows[i].DevicesInstalled }),
		"active":    sumBy(len(adoption.Rows), func(i int) (string, *int) { return start(adoption.Rows[i].Start), adoption.Rows[i].DevicesActive }),
		"alarms":    sumBy(len(alertStats.Rows), func(i int) (string, *int) { return start(alertStats.Rows[i].Start), alertStats.Rows[i].Alarms }),
	}
	if fmt.Sprint(want["alarm"]) != "[1 2 3]" || fmt.Sprint(want["alarms"]) != "[1 1 1]" || want["active"][2] == 0 {
		t.Fatalf("the API's figures are not what was loaded: %v", want)
	}

	b.do("open the dashboard", chromedp.Navigate(base+"/stats"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in as a manager",
		chromedp.SendKeys("#token", tok, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the first figures", `document.body.dataset.loaded === "true"`)
	b.do("ask for January to March by month",
		chromedp.SetValue("#from", "2026-01-01", chromedp.ByID),
		chromedp.SetValue("#to", "2026-04-01", chromedp.ByID),
		chromedp.SetValue("#interval", "month", chromedp.ByID),
		chromedp.Click(`#controls button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the figures of the period", `document.body.dataset.loaded === "true" && document.getElementById("dash-status").textContent.includes("1. jan. 2026 til 1. apr. 2026")`)
	var shown string
	b.do("read the errors", chromedp.Evaluate(`document.getElementById("dash-error").hidden ? "" : document.getElementById("dash-error").textContent`, &shown))
	if shown != "" {
		t.Fatalf("the dashboard says: %s", shown)
	}
	var got map[string][]float64
	b.do("read the charts", chromedp.Evaluate(`(() => {
		const vals = (sel) => [...document.querySelectorAll(sel)].map(e => Number(e.dataset.value));
		return {
			alarm: vals('[data-chart=adoption] g[data-series="personal_alarm"] circle'),
			installed: vals('[data-chart=devices] g[data-series="installed"] rect'),
			active: vals('[data-chart=devices] g[data-series="active"] rect'),
			alarms: vals('[data-chart=alerts] g[data-series="alarms"] rect'),
		};
	})()`, &got))
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("%s: the chart shows %v, the API answered %v", k, got[k], w)
		}
	}
	// The funnel (issue 7): the registry records were made on 15 April, after the
	// back-dated installations, and the dashboard drew "registered 0" above "installed 3".
	// The API's funnel must be monotone, and the chart must draw the API's figures.
	var wantFunnel []string
	for _, r := range adoption.Funnel {
		if (r.Installed == nil || *r.Installed == 0) && (r.Active == nil || *r.Active == 0) {
			continue // the dashboard leaves out technologies nobody has
		}
		if r.Registered == nil || r.Installed == nil || r.Active == nil || r.StillActive90d == nil {
			t.Fatalf("a manager's own funnel is suppressed: %+v", r)
		}
		if !(*r.Registered >= *r.Installed && *r.Installed >= *r.Active && *r.Active >= *r.StillActive90d) {
			t.Errorf("funnel %s not monotone: %d %d %d %d", r.Technology, *r.Registered, *r.Installed, *r.Active, *r.StillActive90d)
		}
		wantFunnel = append(wantFunnel, fmt.Sprint(*r.Registered, " ", *r.Installed, " ", *r.Active, " ", *r.StillActive90d))
	}
	if got := strings.Join(wantFunnel, ", "); got != "3 3 3 0, 3 1 1 0" {
		t.Errorf("the API's funnel (personal alarm, medicine dispenser): %s, want 3 3 3 0, 3 1 1 0", got)
	}
	var drawn []string
	b.do("read the funnel", chromedp.Evaluate(`(() => {
		const vals = (s) => [...document.querySelectorAll('[data-chart=funnel] g[data-series="' + s + '"] rect')].map(e => e.dataset.value);
		const st = ["registered", "installed", "active", "still_active_90d"].map(vals);
		return st[0].map((_, i) => st.map((v) => v[i]).join(" "));
	})()`, &drawn))
	if strings.Join(drawn, ", ") != strings.Join(wantFunnel, ", ") {
		t.Errorf("the funnel chart shows %v, the API answered %v", drawn, wantFunnel)
	}
	// The months are labelled in Danish time (January starts at 23:00 UTC on 31 December),
	// in Danish.
	var adoptionText string
	b.do("read the adoption chart", chromedp.Evaluate(`document.querySelector("[data-chart=adoption]").textContent`, &adoptionText))
	if !strings.Contains(adoptionText, "jan. 26") || !strings.Contains(adoptionText, "mar. 26") || strings.Contains(adoptionText, "dec. 25") {
		t.Errorf("the adoption chart's intervals are not labelled jan. 26 to mar. 26: %q", adoptionText)
	}
	var panels string
	b.do("read the panels", chromedp.Evaluate(`document.getElementById("panels").innerText`, &panels))
	for _, a := range benefits.Model.Assumptions {
		if !strings.Contains(panels, a) {
			t.Errorf("the assumption %q is not shown", a)
		}
	}
	if !strings.Contains(panels, "3\nalarmer i perioden") {
		t.Errorf("the alarm count is not shown:\n%s", panels)
	}
	b.screenshot("dashboard-live")

	// The CSV of the adoption view is the API's.
	code, csv := call("GET", "/api/v1/stats/adoption?"+q, "", "text/csv")
	if code != 200 {
		t.Fatalf("csv: %d", code)
	}
	rows := len(strings.Split(strings.TrimSpace(string(csv)), "\n")) - 1
	b.do("download the adoption CSV", chromedp.Click(`#panel-adoption button[data-csv]`, chromedp.ByQuery))
	noun := "rækker"
	if rows == 1 {
		noun = "række"
	}
	b.waitJS("the download", fmt.Sprintf(`document.getElementById("dash-status").textContent.includes("vagt-adoption-2026-01-01-2026-04-01.csv (%d %s)")`, rows, noun))
	b.checkErrors()
}
