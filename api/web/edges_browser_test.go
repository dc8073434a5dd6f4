package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt"
)

// TestConsoleEdges drives the console in headless Chromium against the real API and
// broker: a press from a device staff put in test mode shows as "Prøvealarm" on its card
// and in its detail; from the detail Anna sets the citizen away until a date, the detail
// says "Borgeren er væk til …" and the care plan carries the absence; an inactivity alarm
// published then raises no card (the fall published after it does); ending the absence
// from the console removes the line.
func TestConsoleEdges(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	b.do("open the console", chromedp.Navigate(st.proxy.URL+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.signIn(st.tokens["anna"])
	b.do("the empty list", chromedp.WaitVisible("#empty", chromedp.ByID))

	if code := st.call(t, "anna", "POST", "/api/v1/devices/bu-17:btn/test", `{"minutes":30}`, nil); code != http.StatusOK {
		t.Fatalf("test mode: %d", code)
	}
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: st.clock.Now(), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	b.do("the test alert", chromedp.WaitVisible(card("panic")+" .badge.test", chromedp.ByQuery))
	// Waited for, not read once: the list may redraw the card between the two (seen in CI).
	b.waitJS("the test badge saying Prøvealarm", `(document.querySelector(`+"`"+card("panic")+` .badge.test`+"`"+`)?.textContent || "").trim().toLowerCase() === "prøvealarm"`)
	b.do("open the detail",
		clickInList(card("panic")+` button[data-action=detail]`),
		chromedp.WaitVisible("#detail .absence-form", chromedp.ByQuery))
	b.waitJS("the test badge and the test-mode control in the detail", `(d => d.querySelector(".badge.test") &&
		d.querySelector('button[data-test-device="bu-17:btn"]')?.textContent.includes("Afslut prøvetilstand"))(document.getElementById("detail"))`)

	day := st.clock.Now().Add(10 * 24 * time.Hour).Format("2006-01-02")
	b.do("set the citizen away",
		chromedp.SetValue("#away-until", day, chromedp.ByID),
		chromedp.Click(`#detail .absence-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#detail .away", chromedp.ByQuery))
	if s := b.text("#detail .away"); !strings.Contains(s, "Borgeren er væk") {
		t.Fatalf("the absence line says %q", s)
	}
	b.screenshotViewport("detail-away")
	var plan struct {
		Effective struct {
			Absence *struct{ Until time.Time } `json:"absence"`
		} `json:"effective"`
	}
	if code := st.call(t, "anna", "GET", "/api/v1/homes/home-0042/config", "", &plan); code != http.StatusOK || plan.Effective.Absence == nil {
		t.Fatalf("the care plan after setting the absence: %d %+v", code, plan)
	}
	b.do("close the detail", chromedp.Click(`#detail button[data-close]`, chromedp.ByQuery), chromedp.WaitNotVisible("#detail", chromedp.ByID))

	// One gateway's alarms are committed in order: once the fall shows, the inactivity
	// before it was handled, and it raised no alert.
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 2, Time: st.clock.Now(), Device: "gw-0042", Type: vagt.AlarmInactivity})
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 3, Time: st.clock.Now(), Device: "fall-1", Type: vagt.AlarmFall})
	b.do("the fall while away", chromedp.WaitVisible(card("fall"), chromedp.ByQuery))
	b.waitJS("no inactivity card", `document.querySelector('`+card("inactivity")+`') === null`)

	b.do("open the fall's detail and end the absence",
		clickInList(card("fall")+` button[data-action=detail]`),
		chromedp.WaitVisible(`#detail button[data-action=end-absence]`, chromedp.ByQuery),
		chromedp.Click(`#detail button[data-action=end-absence]`, chromedp.ByQuery))
	b.waitJS("the absence line gone", `document.querySelector("#detail .away") === null && document.querySelector("#detail .absence-form") !== null`)
	b.checkErrors()
}
