package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/roster"
)

// TestRosterPage drives the duty roster page in headless Chromium against the real API: the
// district lead (a manager) sees Nord's day and night shifts and who is on duty now, in
// Danish; emptying the night shift saves and warns that its alarms escalate at once; an
// overlap is refused with the shift marked and nothing saved; English is a switch away; axe
// finds no serious or critical violation, before or after the refusal.
func TestRosterPage(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	tok, hash, _ := auth.NewToken()
	if _, err := st.srv.Store.IssueToken(t.Context(), api.Principal{Name: "mads", Role: api.RoleManager, Municipality: 766}, hash, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	b.do("open the roster", chromedp.Navigate(st.proxy.URL+"/roster"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in", chromedp.SendKeys("#token", tok, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#shifts li.shift[data-index="1"]`, chromedp.ByQuery))
	if s := b.text("#roster-title"); s != "Vagtplan" {
		t.Errorf("title %q, want Danish", s)
	}
	b.waitJS("who is on duty now", `document.querySelector("#duty tbody tr")?.textContent.includes("anna, bo")`)
	src := axeSource(t)
	b.axe("roster", src)

	// Nobody on the night shift: saved, and warned of.
	b.do("empty the night shift", chromedp.Evaluate(`document.getElementById("s1-staff").value = ""`, nil),
		chromedp.Click(`#roster-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the warning", `document.querySelector('#warnings li[data-code="no_staff"]')?.textContent.includes("eskalerer med det samme")`)
	b.screenshot("roster")
	var r roster.Roster
	if code := st.call(t, "anna", "GET", "/api/v1/districts/1/roster", "", &r); code != http.StatusOK || len(r.Shifts) != 2 || len(r.Shifts[1].Staff) != 0 {
		t.Fatalf("after saving an empty night: %d %+v", code, r)
	}

	// The day shift running into the night: refused, the overlapping shift marked.
	b.do("overlap", chromedp.Evaluate(`document.getElementById("s0-end").value = "20:00"`, nil),
		chromedp.Click(`#roster-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the refusal", `!document.getElementById("errors").hidden && document.getElementById("errors").textContent.includes("shifts[1]")`)
	b.waitJS("the shift marked", `document.querySelector('#shifts li[data-index="1"]').getAttribute("aria-invalid") === "true"`)
	if code := st.call(t, "anna", "GET", "/api/v1/districts/1/roster", "", &r); code != http.StatusOK || r.Shifts[0].End != "19:00" {
		t.Fatalf("a refused roster changed the saved one: %+v", r)
	}
	if s := b.text("#errors"); !strings.Contains(s, "blev ikke gemt") {
		t.Errorf("the refusal in Danish: %q", s)
	}
	b.axe("roster-refused", src)
	// English on the switch: the page redraws in place, the typed form kept.
	b.do("switch to English", chromedp.Evaluate(`(s => { s.value = "en"; s.dispatchEvent(new Event("change")); })(document.querySelector(".lang-switch select"))`, nil))
	b.waitJS("the page in English", `document.getElementById("roster-title").textContent === "Duty roster" &&
		document.querySelector('#warnings li[data-code="no_staff"]')?.textContent.includes("nobody on it") &&
		document.getElementById("s0-end").value === "20:00"`)
	b.checkErrors()
}
