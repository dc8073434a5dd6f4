package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/api/stats"
)

// compareFacts is a registry in memory for the comparison page: Hedensted (766) with 20
// citizens with a personal alarm, Aarhus (751) 12, Favrskov (710) 3 (hidden nationally),
// every device reporting. stats.Service computes on it as on the SQL store
// (TestCompareEndpoint runs the same computation against SQLite and InfluxDB).
type compareFacts struct {
	devices  []stats.DeviceFact
	citizens []stats.CitizenFact
}

func newCompareFacts() *compareFacts {
	f := &compareFacts{}
	for _, c := range []struct {
		m vagt.MunicipalityCode
		n int
	}{{766, 20}, {751, 12}, {710, 3}} {
		for range c.n {
			id := int64(len(f.citizens) + 1)
			reg := time.Date(2026, 1, 2, 12, 0, 0, 0, vagt.Copenhagen)
			f.citizens = append(f.citizens, stats.CitizenFact{ID: id, Municipality: c.m, RegisteredAt: reg})
			f.devices = append(f.devices, stats.DeviceFact{Device: vagt.DeviceID(fmt.Sprintf("pa-%d", id)), Municipality: c.m,
				Technology: vagt.TechPersonalAlarm, Citizen: id, InstalledAt: reg.AddDate(0, 0, 14)})
		}
	}
	return f
}

func (f *compareFacts) DeviceFacts(_ context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]stats.DeviceFact, error) {
	var out []stats.DeviceFact
	for _, d := range f.devices {
		if d.InstalledAt.Before(before) && (len(muns) == 0 || slices.Contains(muns, d.Municipality)) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *compareFacts) CitizenFacts(_ context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]stats.CitizenFact, error) {
	var out []stats.CitizenFact
	for _, c := range f.citizens {
		if c.RegisteredAt.Before(before) && (len(muns) == 0 || slices.Contains(muns, c.Municipality)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *compareFacts) AlertFacts(context.Context, []vagt.MunicipalityCode, time.Time, time.Time) ([]stats.AlertFact, error) {
	return nil, nil
}

func (f *compareFacts) ActiveDevices(context.Context, []vagt.MunicipalityCode, time.Time, time.Time) (map[vagt.DeviceID]bool, error) {
	out := map[vagt.DeviceID]bool{}
	for _, d := range f.devices {
		out[d.Device] = true
	}
	return out, nil
}

// TestComparePage: the comparison page of a real vagt api, signed in with real tokens,
// draws what stats.Service.Compare answers: a manager's own municipality beside the peer
// group with Danish numbers, "—" with its reason for what is hidden (never "0 %"), the grid
// map of the 98 with their figures, where the figures come from; the national view ranks
// every municipality; English by the switch; nothing cut off at 360 px or 1400 px.
func TestComparePage(t *testing.T) {
	b := newBrowser(t)
	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db")}, server.Deps{})
	tokens := map[string]string{}
	principals := map[string]api.Principal{
		"mette": {Role: api.RoleManager, Municipality: 766},
		"nina":  {Role: api.RoleNational},
	}
	byToken := map[string]api.Principal{}
	for name, p := range principals {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		p.Name = name
		if _, err := srv.Store.IssueToken(t.Context(), p, hash, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		tokens[name], byToken[tok] = tok, p
	}
	facts := newCompareFacts()
	svc := &stats.Service{Store: facts, Telemetry: facts, Model: stats.DefaultBenefitModel()}
	var asked []string
	compare := func(w http.ResponseWriter, r *http.Request) {
		p := byToken[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		v := r.URL.Query()
		asked = append(asked, r.URL.RawQuery)
		period, err := stats.ParsePeriod(v.Get("from"), v.Get("to"), "")
		tech, err2 := vagt.ParseTechnology(v.Get("technology"))
		if err != nil || err2 != nil {
			http.Error(w, `{"error":{"code":"invalid","message":"bad query"}}`, 400)
			return
		}
		q := stats.CompareQuery{Period: period, Technologies: []vagt.Technology{tech}}
		if p.Role == api.RoleManager {
			q.Own = p.Municipality
		} else {
			for _, m := range vagt.Municipalities() {
				q.Municipalities = append(q.Municipalities, m.Code)
			}
			q.All, q.Suppress = true, true
		}
		res, err := svc.Compare(r.Context(), q)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if r.Header.Get("Accept") == "text/csv" {
			w.Header().Set("Content-Type", "text/csv")
			_ = stats.WriteCompareCSV(w, res)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	}
	target, _ := url.Parse("http://" + srv.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/stats/compare", compare)
	mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	front := startHTTP(t, mux)

	b.do("open the comparison", chromedp.Navigate(front+"/stats/compare"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in as Hedensted's manager",
		chromedp.SendKeys("#token", tokens["mette"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the comparison loaded", `document.body.dataset.loaded === "true"`)
	if len(asked) == 0 || !strings.Contains(asked[len(asked)-1], "technology=personal_alarm") {
		t.Fatalf("the page asked %v", asked)
	}
	var side, sources string
	var hidden []string
	b.do("read the side by side", chromedp.Evaluate(`document.getElementById("panel-side").innerText`, &side),
		chromedp.Evaluate(`document.getElementById("panel-sources").innerText`, &sources),
		chromedp.Evaluate(`[...document.querySelectorAll("#panel-side .hidden-figure")].map(b => b.title)`, &hidden))
	// Hedensted: 20 citizens, 20 / 10,600 × 1,000 = 1,9 per 1,000 aged 65+, 14 days; the
	// peers' 3 (Favrskov) are pooled with nobody else's and shown protected.
	for _, s := range []string{"Hedensted", "1,9", "20", "14 dage", "Sammenlignelige kommuner", "nr. 1 af", "udvidet"} {
		if !strings.Contains(side, s) {
			t.Errorf("the side by side does not show %q:\n%s", s, side)
		}
	}
	// No alarms in the registry: the response shares are "—", never "0 %".
	for _, line := range strings.Split(side, "\n") {
		if strings.HasPrefix(line, "alarmer kvitteret") && (strings.Contains(line, "%") || !strings.Contains(line, "—")) {
			t.Errorf("a share with nothing to compute from shows %q", line)
		}
	}
	if !slices.Contains(hidden, "Ingen alarm, der krævede besøg, fik registreret en ankomst") {
		t.Errorf("arrival within 30 min is not '—' with its reason: %v", hidden)
	}
	for _, s := range []string{"illustrative tal", "danske datoer", "Perioden", "afrundet til nærmeste 5", "udvidet"} {
		if !strings.Contains(sources, s) {
			t.Errorf("where the figures come from does not say %q:\n%s", s, sources)
		}
	}
	var cells int
	var hedensted, stroke string
	b.do("read the map", chromedp.Evaluate(`document.querySelectorAll("[data-map] g[data-code]").length`, &cells),
		chromedp.Evaluate(`document.querySelector('[data-map] g[data-code="766"] rect').dataset.value || ""`, &hedensted),
		chromedp.Evaluate(`document.querySelector('[data-map] g[data-code="766"] rect').getAttribute("stroke")`, &stroke))
	if cells != 98 || hedensted != "1.887" || stroke != "#d55e00" {
		t.Errorf("the map: %d cells, Hedensted %q outlined %q", cells, hedensted, stroke)
	}
	var favrskovTile, kobenhavnTile string
	b.do("the peer group and others on the map", chromedp.Evaluate(`document.querySelector('[data-map] g[data-code="710"] title').textContent`, &favrskovTile),
		chromedp.Evaluate(`document.querySelector('[data-map] g[data-code="101"] title').textContent`, &kobenhavnTile))
	if !strings.HasPrefix(favrskovTile, "Favrskov (Sammenlignelige kommuner): 0,") || !strings.Contains(kobenhavnTile, "— (Kun din egen kommune") {
		t.Errorf("a manager's map: Favrskov %q, København %q", favrskovTile, kobenhavnTile)
	}
	checkWidths(t, b, "the Danish comparison")
	b.axe("compare-manager", axeSource(t)) // no serious or critical violation (a11y_browser_test.go)
	b.screenshot("compare-manager")

	// National: every municipality ranked; Favrskov's 3 hidden with why, never 0.
	b.do("sign out", chromedp.Click("#sign-out", chromedp.ByID), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in as national",
		chromedp.SendKeys("#token", tokens["nina"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the comparison loaded", `document.body.dataset.loaded === "true" && document.querySelectorAll("[data-rank] tbody tr").length === 98`)
	var rows int
	var first, favrskov, favrskovWhy string
	var sidePanelHidden bool
	b.do("read the ranking", chromedp.Evaluate(`document.querySelectorAll("[data-rank] tbody tr").length`, &rows),
		chromedp.Evaluate(`document.querySelector("[data-rank] tbody tr").innerText`, &first),
		chromedp.Evaluate(`document.querySelector('[data-rank] tr[data-code="710"]').innerText`, &favrskov),
		chromedp.Evaluate(`document.querySelector('[data-rank] tr[data-code="710"] .hidden-figure').title`, &favrskovWhy),
		chromedp.Evaluate(`document.getElementById("panel-side").hidden`, &sidePanelHidden))
	if rows != 98 || !strings.Contains(first, "Hedensted") || !strings.Contains(favrskov, "—") || !strings.Contains(favrskovWhy, "færre end 5 borgere") || !sidePanelHidden {
		t.Errorf("national ranking: %d rows, first %q, Favrskov %q (%q), side panel hidden %v", rows, first, favrskov, favrskovWhy, sidePanelHidden)
	}
	b.screenshot("compare-national")
	b.axe("compare-national", axeSource(t))
	var aarhus string
	b.do("Aarhus on the map", chromedp.Evaluate(`document.querySelector('[data-map] g[data-code="751"] title').textContent`, &aarhus))
	if aarhus != "Aarhus: 0,2" { // 12 → 10 (rounded) / 53,000 × 1,000 = 0.189
		t.Errorf("Aarhus on the map: %q", aarhus)
	}
	b.do("download the CSV", chromedp.Click("#csv", chromedp.ByID))
	b.waitJS("the download", `document.getElementById("cmp-status").textContent.includes("vagt-compare-")`)

	b.chooseLanguageReload("en")
	b.waitJS("the comparison in English", `document.documentElement.lang === "en" && document.body.dataset.loaded === "true"`)
	var en string
	b.do("read it in English", chromedp.Evaluate(`document.getElementById("cmp-main").innerText`, &en))
	for _, s := range []string{"per 1,000 aged 65+", "Where the figures come from", "illustrative figures", "Ranking"} {
		if !strings.Contains(en, s) {
			t.Errorf("the English comparison does not show %q", s)
		}
	}
	checkWidths(t, b, "the English comparison")
	b.checkErrors()
}
