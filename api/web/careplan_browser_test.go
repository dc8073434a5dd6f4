package web_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCarePlanPage drives the care-plan page in headless Chromium against the real API, in
// Danish: the citizen is chosen by name; a home without a plan shows its defaults in words
// ("22:00–07:00", no "6h0m0s" or JSON); a value the API refuses is said once, next to its
// field; leaving out the fall detector is refused with the device named and saved only when
// confirmed; Danish durations and windows are saved as the API's and shown back in Danish;
// the gateway has not reported the plan, so it is pending; the history names the change.
// In English (the switch) the same plan reads in English.
func TestCarePlanPage(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	b.do("open the care-plan page", chromedp.Navigate(st.proxy.URL+"/careplan"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in",
		chromedp.SendKeys("#token", st.tokens["anna"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#citizen", chromedp.ByID))
	b.waitJS("the citizens by name", `[...document.querySelectorAll("#citizen option")].some(o => o.value === "home-0042" && o.textContent === "Karen Jensen")`)
	b.do("choose Karen Jensen", chromedp.SetValue("#citizen", "home-0042", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("citizen").dispatchEvent(new Event("change"))`, nil),
		chromedp.WaitVisible("#plan-body", chromedp.ByID))
	var h string
	b.do("read the overview", chromedp.Evaluate(`document.querySelector("#homes tbody").textContent`, &h)) // folded away: not innerText
	if !strings.Contains(h, "Karen Jensen") || !strings.Contains(h, "ingen") || strings.Contains(h, "home-0042") {
		t.Fatalf("overview: %q", h)
	}
	if s := b.text("#plan-title"); s != "Plejeplan for Karen Jensen" {
		t.Fatalf("title: %q", s)
	}
	if s := b.text("#plan-state"); !strings.Contains(s, "Version 0") || !strings.Contains(s, "Ingen egen plejeplan") {
		t.Fatalf("state of a home without a plan: %q", s)
	}
	if eff := b.text("#effective"); !strings.Contains(eff, "22:00–07:00") || !strings.Contains(eff, "Nødkald (bu-17:btn)") {
		t.Fatalf("defaults shown: %q", eff)
	}
	var page string
	b.do("read the page", chromedp.Evaluate(`document.getElementById("plan-body").innerText`, &page))
	for _, raw := range []string{"0m0s", "{", "rules.", "\"night\""} {
		if strings.Contains(page, raw) {
			t.Errorf("the page shows %q: %s", raw, page)
		}
	}

	// set types a value into a field (chromedp.SetValue refuses an empty one).
	set := func(id, value string) chromedp.Action {
		return chromedp.Evaluate(`(e => { e.value = `+strconv.Quote(value)+`; e.dispatchEvent(new Event("input", {bubbles: true})); return true; })(document.querySelector("`+id+`"))`, nil)
	}
	save := chromedp.Click(`#edit-form button[type=submit]`, chromedp.ByQuery)

	// A window the form cannot read is said at the field, and nothing is sent.
	b.do("a night without an end", set("#f-rules-night", "23:00"), save)
	b.waitJS("the field error", `!document.getElementById("f-rules-night-error").hidden`)
	if msg := b.text("#f-rules-night-error"); !strings.Contains(msg, "22:00–07:00") {
		t.Fatalf("error shown: %q", msg)
	}
	// Thirty minutes of inactivity reads well but the API refuses it (1-24 hours): its
	// message stands at the field, once, and the field is marked.
	b.do("inactivity after 30 min", set("#f-rules-night", ""), set("#f-rules-inactivity", "30 min"), save)
	b.waitJS("the API's field error", `!document.getElementById("f-rules-inactivity-error").hidden`)
	var said struct {
		Times   int
		Invalid string
		General bool
	}
	b.do("count the message", chromedp.Evaluate(`(() => {
		const msg = document.getElementById("f-rules-inactivity-error").textContent;
		const all = [...document.querySelectorAll("#plan p, #plan li, #plan span")].filter(e => e.children.length === 0 && e.textContent.includes(msg));
		return {Times: all.length, Invalid: document.getElementById("f-rules-inactivity").getAttribute("aria-invalid") || "",
			General: !document.getElementById("edit-error").hidden};
	})()`, &said))
	if said.Times != 1 || said.Invalid != "true" || said.General {
		t.Fatalf("the refusal of the inactivity: %+v", said)
	}

	// Leaving out the registered fall detector would make the gateway ignore its falls:
	// refused with the device named, saved when confirmed.
	b.do("leave out the fall detector", set("#f-rules-inactivity", ""),
		chromedp.Click(`tr[data-device="fall-1"] input[type=checkbox]`, chromedp.ByQuery), save)
	b.waitJS("the refusal of a plan without the fall detector", `!document.getElementById("f-devices-error").hidden`)
	if msg := b.text("#f-devices-error"); !strings.Contains(msg, "fall-1 (fall_detector)") {
		t.Fatalf("error shown: %q", msg)
	}
	if s := b.text("#edit-form .confirm"); !strings.Contains(s, "Faldsensor (fall-1) er ikke med i planen") {
		t.Fatalf("the confirmation asked: %q", s)
	}
	b.do("confirm and save", chromedp.Click("#confirm-drop", chromedp.ByID), save)
	b.waitJS("version 1", `document.getElementById("plan-state").dataset.version === "1"`)
	b.waitJS("the overview: one of two devices", `document.querySelector("#homes tbody").textContent.includes("1 af 2")`)

	// Danish durations and windows, and the fall detector back in.
	b.do("edit in Danish", set("#f-rules-night", "21.00–7.00"), set("#f-rules-bed_exit", "1 t 30 min"),
		chromedp.Click(`tr[data-device="fall-1"] input[type=checkbox]`, chromedp.ByQuery), save)
	b.waitJS("version 2", `document.getElementById("plan-state").dataset.version === "2"`)
	if s := b.text("#plan-state"); !strings.Contains(s, "Afventer") {
		t.Fatalf("state after saving with the gateway offline: %q", s)
	}
	var cfg struct {
		Settings struct {
			Rules   map[string]any
			Devices []map[string]any
			Confirm []string
		}
	}
	if code := st.call(t, "anna", "GET", "/api/v1/homes/home-0042/config", "", &cfg); code != 200 ||
		cfg.Settings.Rules["night"] != "21:00-07:00" || cfg.Settings.Rules["bed_exit"] != "1h30m0s" || cfg.Settings.Rules["inactivity"] != nil || len(cfg.Settings.Devices) != 2 {
		t.Fatalf("the plan saved: %d %+v", code, cfg.Settings)
	}
	var shown []string
	b.do("read the form back", chromedp.Evaluate(`["f-rules-night", "f-rules-bed_exit"].map(id => document.getElementById(id).value)`, &shown))
	if strings.Join(shown, "|") != "21:00–07:00|1 t 30 min" {
		t.Errorf("the form shows %q", shown)
	}
	b.waitJS("the overview updated", `document.querySelector("#homes tbody").textContent.includes("afventer") && document.querySelector("#homes tbody").textContent.includes("2 af 2")`)
	if h := b.text("#history"); !strings.Contains(h, "Version 2") || !strings.Contains(h, "Nat") || !strings.Contains(h, "anna") || !strings.Contains(h, "Version 1") {
		t.Fatalf("history shown: %q", h)
	}
	b.screenshot("careplan-form")

	// English by the switch: the page reloads, the citizen stays chosen.
	b.do("keep the citizen in the address", chromedp.Evaluate(`history.replaceState(null, "", "/careplan?home=home-0042")`, nil))
	b.chooseLanguageReload("en")
	b.waitJS("the plan in English", `document.documentElement.lang === "en" && document.getElementById("plan-state").dataset.version === "2" &&
		document.getElementById("f-rules-bed_exit").value === "1 h 30 min"`)
	if s := b.text("#plan-state"); !strings.Contains(s, "Pending") {
		t.Errorf("the state in English: %q", s)
	}
	if s := b.text("#plan-title"); s != "Care plan of Karen Jensen" {
		t.Errorf("the title in English: %q", s)
	}
	b.checkErrors()
}
