package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCarePlanPage drives the care-plan page in headless Chromium against the real API: a
// home without a plan shows its defaults and state "none"; an invalid night window is
// refused with the field named; a valid plan is saved as version 1 and shows as pending
// (the home's gateway has not reported it), with the change in the history.
func TestCarePlanPage(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	b.do("open the care-plan page", chromedp.Navigate(st.proxy.URL+"/careplan?home=home-0042"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in",
		chromedp.SendKeys("#token", st.tokens["anna"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#plan-body", chromedp.ByID))
	b.waitJS("the homes", `document.querySelectorAll("#homes tbody tr").length === 1`)
	if h := strings.ToLower(b.text("#homes tbody")); !strings.Contains(h, "home-0042") || !strings.Contains(h, "none") {
		t.Fatalf("overview: %q", h)
	}
	if s := b.text("#plan-state"); !strings.Contains(s, "Version 0") || !strings.Contains(s, "No care plan") {
		t.Fatalf("state of a home without a plan: %q", s)
	}
	if eff := b.text("#effective"); !strings.Contains(eff, `"night": "22:00-07:00"`) || !strings.Contains(eff, "bu-17:btn") {
		t.Fatalf("defaults shown: %q", eff)
	}
	edit := func(settings string) {
		t.Helper()
		b.do("edit the settings", chromedp.SetValue("#settings", settings, chromedp.ByID),
			chromedp.Click(`#edit-form button[type=submit]`, chromedp.ByQuery))
	}
	edit(`{"devices":[{"device":"bu-17:btn","technology":"personal_alarm"}],"rules":{"night":"23:00"}}`)
	b.waitJS("the field error", `!document.getElementById("edit-error").hidden`)
	if msg := b.text("#edit-error"); !strings.HasPrefix(msg, "rules.night: ") {
		t.Fatalf("error shown: %q", msg)
	}
	// Leaving out the registered fall detector would make the gateway ignore its falls.
	edit(`{"devices":[{"device":"bu-17:btn","technology":"personal_alarm","role":"panic_button"}],"rules":{"night":"21:00-07:00"}}`)
	b.waitJS("the refusal of a plan without the fall detector", `document.getElementById("edit-error").textContent.includes("leave_out:fall-1")`)
	if msg := b.text("#edit-error"); !strings.HasPrefix(msg, "devices: ") || !strings.Contains(msg, "fall-1 (fall_detector)") {
		t.Fatalf("error shown: %q", msg)
	}
	edit(`{"devices":[{"device":"bu-17:btn","technology":"personal_alarm","role":"panic_button"},{"device":"fall-1","technology":"fall_detector"}],"rules":{"night":"21:00-07:00"}}`)
	b.waitJS("version 1", `document.getElementById("plan-state").textContent.startsWith("Version 1 ")`)
	if s := b.text("#plan-state"); !strings.Contains(s, "Pending") {
		t.Fatalf("state after saving with the gateway offline: %q", s)
	}
	b.waitJS("the overview updated", `document.querySelector("#homes tbody").textContent.includes("pending")`)
	if row := b.text("#homes tbody"); !strings.Contains(row, "2 of 2") {
		t.Fatalf("overview without the devices covered: %q", row)
	}
	if h := b.text("#history"); !strings.Contains(h, "Version 1") || !strings.Contains(h, "rules.night") || !strings.Contains(h, "anna") {
		t.Fatalf("history shown: %q", h)
	}
	b.checkErrors()
}
