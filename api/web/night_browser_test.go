package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt"
)

// TestNightBoard drives the night board in headless Chromium against the real API: Anna
// (staff of the district) sees Karen Jensen's home with the check due, in Danish; the API
// runs without InfluxDB, so the board says the sensors' state is unknown and the home is
// amber, never green; one tap on "Besøg nødvendigt" records the check and raises a
// night_visit alert on the alert list; the home's checks list it; English is selectable.
func TestNightBoard(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	if err := st.srv.Store.RegisterDevice(t.Context(), "bed-1", "gw-0042", vagt.TechBedSensor, "bed"); err != nil {
		t.Fatal(err)
	}
	cph := vagt.Copenhagen
	due := st.clock.Now().Add(10 * time.Minute).Truncate(time.Minute)
	plan := fmt.Sprintf(`{"devices":[{"device":"bed-1","technology":"bed_sensor","zigbee":"bed"},{"device":"bu-17:btn","technology":"personal_alarm"},{"device":"fall-1","technology":"fall_detector"}],
		"rules":{},"night_checks":{"times":[%q],"window":"30m","good":{"in_bed":true}}}`, due.In(cph).Format("15:04"))
	var refused any
	if code := st.call(t, "anna", "PUT", "/api/v1/homes/home-0042/config", plan, &refused); code != http.StatusOK {
		t.Fatalf("care plan with night checks: %d %v", code, refused)
	}
	var bad struct {
		Error struct{ Field string } `json:"error"`
	}
	if code := st.call(t, "anna", "PUT", "/api/v1/homes/home-0042/config",
		strings.Replace(plan, `"in_bed":true`, `"door_closed":true`, 1), &bad); code != http.StatusBadRequest || bad.Error.Field != "night_checks.good.door_closed" {
		t.Fatalf("a check no device can report: %d %+v", code, bad)
	}
	st.clock.Advance(15 * time.Minute)

	b.do("open the night board", chromedp.Navigate(st.proxy.URL+"/night"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in", chromedp.SendKeys("#token", st.tokens["anna"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`li.night-home[data-home="home-0042"]`, chromedp.ByQuery))
	home := `li.night-home[data-home="home-0042"]`
	if s := b.text(home); !strings.Contains(s, "Karen Jensen") || !strings.Contains(s, "Tilsyn kl. "+due.In(cph).Format("15:04")) ||
		!strings.Contains(strings.ToLower(s), "gul") || !strings.Contains(s, "I seng") || !strings.Contains(s, "Ingen måling fra sengen") {
		t.Fatalf("the home's card in Danish: %q", s)
	}
	if s := b.text("#telemetry"); !strings.Contains(s, "Intet vises som grønt") {
		t.Errorf("the unknown-state banner: %q", s)
	}
	b.waitJS("amber, not green", `document.querySelector('`+home+`').dataset.grade === "amber"`)
	b.screenshotViewport("night-board")

	b.do("visit needed", chromedp.Click(home+` button[data-action=visit]`, chromedp.ByQuery))
	b.waitJS("the check recorded", `document.querySelector('`+home+`').dataset.status === "done"`)
	var list struct {
		Alerts []struct {
			Type    string
			Home    string
			Details map[string]string
		}
	}
	if code := st.call(t, "anna", "GET", "/api/v1/alerts", "", &list); code != http.StatusOK {
		t.Fatalf("alerts: %d", code)
	}
	found := false
	for _, a := range list.Alerts {
		found = found || (a.Type == "night_visit" && a.Home == "home-0042" && a.Details["by"] == "anna")
	}
	if !found {
		t.Errorf("no night_visit alert: %+v", list.Alerts)
	}
	var checks struct {
		Checks []struct{ Decision, By, Grade string }
	}
	if code := st.call(t, "anna", "GET", "/api/v1/homes/home-0042/night-checks", "", &checks); code != http.StatusOK ||
		len(checks.Checks) != 1 || checks.Checks[0].Decision != "visit" || checks.Checks[0].By != "anna" || checks.Checks[0].Grade != "amber" {
		t.Errorf("the home's checks: %d %+v", code, checks)
	}

	if s := b.text(home + " .badge"); !strings.EqualFold(s, "Gul") { // shown in capitals by the style
		t.Errorf("the grade in Danish: %q", s)
	}
	b.chooseLanguage("en")
	b.waitJS("English", `document.getElementById("board-title").textContent === "Tonight's checks" && document.documentElement.lang === "en" &&
		document.querySelector('`+home+` .badge').textContent === "Amber"`)
	b.checkErrors()
}
