package web_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
)

// The vendored axe-core (testdata/axe/README.md says how to update it).
const (
	axeVersion = "4.14.1"
	axeSHA256  = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
)

func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAxeVendored: the vendored axe is the pinned version, byte for byte.
func TestAxeVendored(t *testing.T) {
	src := axeSource(t)
	sum := sha256.Sum256([]byte(src))
	if got := hex.EncodeToString(sum[:]); got != axeSHA256 {
		t.Errorf("testdata/axe/axe.min.js sha256 %s, want %s (update axeSHA256 with the README)", got, axeSHA256)
	}
	if !strings.HasPrefix(src, "/*! axe v"+axeVersion) {
		t.Errorf("testdata/axe/axe.min.js is not axe %s: %q", axeVersion, src[:min(len(src), 40)])
	}
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []struct{ Target []string }
}

// axe runs axe-core on the page as it is and fails the test on every serious or critical
// violation (WCAG 2.x A and AA and axe's best practices). The script is given to the page
// through the DevTools protocol, which the page's CSP does not govern.
func (b *browser) axe(page, src string) {
	b.t.Helper()
	var loaded bool
	b.do("is axe there", chromedp.Evaluate(`typeof axe !== "undefined"`, &loaded))
	if !loaded {
		b.do("load axe into "+page, chromedp.Evaluate(src+"\n;true", nil))
		b.do("is axe there", chromedp.Evaluate(`typeof axe !== "undefined"`, &loaded))
	}
	if !loaded {
		b.t.Fatalf("%s: axe did not load", page)
	}
	var res struct {
		Passed     int
		Violations []axeViolation
	}
	b.do("run axe on "+page, chromedp.Evaluate(`axe.run(document).then(r => ({Passed: r.passes.length, Violations: r.violations.map(v =>
		({ID: v.id, Impact: v.impact || "", Help: v.help, Nodes: v.nodes.slice(0, 5).map(n => ({Target: n.target.map(String)}))}))}))`, &res,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if res.Passed < 10 {
		b.t.Fatalf("%s: axe passed only %d rules: it checked nothing", page, res.Passed)
	}
	found := res.Violations
	serious := 0
	for _, v := range found {
		if v.Impact != "serious" && v.Impact != "critical" {
			b.t.Logf("%s: %s (%s): %s", page, v.ID, v.Impact, v.Help)
			continue
		}
		serious++
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		b.t.Errorf("%s: %s (%s): %s at %s", page, v.ID, v.Impact, v.Help, strings.Join(where, "; "))
	}
	if serious > 0 {
		b.screenshot("axe-" + page)
	}
}

// TestAccessibility runs axe-core on every page — the console (sign-in, the list with
// alerts, the detail, the resolve dialog), the care plans, the dashboard and the night
// board — in Danish and on a phone, and acknowledges and resolves an alert on the console
// by keyboard alone; the API records who.
func TestAccessibility(t *testing.T) {
	src := axeSource(t)
	b := newBrowser(t)
	st := startStack(t)
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.srv.Store.IssueToken(t.Context(), api.Principal{Name: "mette", Role: api.RoleManager, Municipality: 766}, hash, nil, st.clock.Now()); err != nil {
		t.Fatal(err)
	}

	b.do("open the console", chromedp.Navigate(st.proxy.URL+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.axe("console-signin", src)
	b.signIn(st.tokens["anna"])
	now := st.clock.Now()
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: now.Add(-90 * time.Second), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 2, Time: now.Add(-time.Hour), Device: "pir-2", Type: vagt.AlarmLowBattery})
	b.do("the alerts", chromedp.WaitVisible(card("panic"), chromedp.ByQuery), chromedp.WaitVisible(card("low_battery"), chromedp.ByQuery))
	b.waitJS("who and where", `document.querySelector('`+card("panic")+`').textContent.includes("Karen Jensen")`)
	b.axe("console", src)

	// By keyboard alone: Tab to the panic alert's "Kvittér", Enter; Tab on to "Afslut…",
	// Enter; choose the outcome with the arrow keys, Tab to the note, type, Tab to
	// "Afslut", Enter.
	panicID := b.alertID("panic")
	b.do("start from the top", chromedp.Evaluate(`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`, nil))
	b.tabTo(card("panic") + ` button[data-action=ack]`)
	b.do("acknowledge with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitJS("acknowledged", `document.querySelector('`+card("panic")+`')?.dataset.state === "acknowledged"`)
	b.tabTo(card("panic") + ` button[data-action=resolve]`)
	b.do("open the resolve dialog with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitJS("the dialog with the focus on the outcome", `document.getElementById("resolve").open && document.activeElement.id === "outcome"`)
	b.axe("console-resolve", src)
	b.do("choose the outcome with the arrow keys", chromedp.KeyEvent(kb.ArrowDown))
	b.waitJS("an outcome chosen", `document.getElementById("outcome").value === "visited_all_well"`)
	b.tabTo("#resolve-note")
	b.do("type a note", chromedp.KeyEvent("Alt vel, klokken var trykket ved en fejl"))
	b.tabTo(`#resolve-form button[type=submit]`)
	b.do("resolve with Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitNotPresent(card("panic"), chromedp.ByQuery))
	var resolved alerts.Detail
	if code := st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", panicID), "", &resolved); code != http.StatusOK ||
		resolved.State != alerts.StateResolved || resolved.AckedBy != "anna" || resolved.ResolvedBy != "anna" || resolved.Outcome != alerts.OutcomeVisitedAllWell ||
		!hasNote(resolved.Notes, "Alt vel, klokken var trykket ved en fejl") {
		t.Fatalf("the alert after the keyboard: %d %+v %+v", code, resolved.Alert, resolved.Notes)
	}

	b.do("open the low-battery detail", clickInList(card("low_battery")+` button[data-action=detail]`),
		chromedp.WaitVisible("#detail table.devices", chromedp.ByQuery))
	b.axe("console-detail", src)
	b.do("close the detail", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible("#detail", chromedp.ByID))
	b.do("phone size", chromedp.EmulateViewport(360, 640))
	b.axe("console-phone", src)
	b.do("desktop size", chromedp.EmulateViewport(1280, 900))

	b.do("open the care plans", chromedp.Navigate(st.proxy.URL+"/careplan?home=home-0042"), chromedp.WaitVisible("#plan-body", chromedp.ByID))
	b.waitJS("the form", `document.getElementById("f-rules-night") !== null && document.querySelector(".gps-zones") !== null`)
	b.axe("careplan", src)

	b.do("open the night board", chromedp.Navigate(st.proxy.URL+"/night"), chromedp.WaitVisible("#board", chromedp.ByID))
	b.axe("night", src)

	b.do("sign out", chromedp.Evaluate(`sessionStorage.clear()`, nil))
	b.do("open the dashboard", chromedp.Navigate(st.proxy.URL+"/stats"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.axe("stats-signin", src)
	b.do("sign in as a manager", chromedp.SendKeys("#token", tok, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the figures loaded", `document.body.dataset.loaded === "true"`)
	b.axe("stats", src)
	b.do("phone size", chromedp.EmulateViewport(360, 640))
	b.axe("stats-phone", src)
	b.checkErrors()
}

// tabTo presses Tab until the element matching sel has the focus (at most 80 times), as a
// keyboard user would.
func (b *browser) tabTo(sel string) {
	b.t.Helper()
	for i := 0; i < 80; i++ {
		var there bool
		b.do("is the focus on "+sel, chromedp.Evaluate(`document.activeElement === document.querySelector(`+"`"+sel+"`"+`)`, &there))
		if there {
			return
		}
		b.do("Tab", chromedp.KeyEvent(kb.Tab))
	}
	var at string
	b.do("where the focus is", chromedp.Evaluate(`document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : ""`, &at))
	b.t.Fatalf("Tab never reached %s (the focus is on %s)", sel, at)
}
