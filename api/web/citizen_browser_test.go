package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
)

// TestCitizenPage: the citizen page /mig in headless Chromium, Danish by default and on a
// phone: the citizen's devices, an alarm with how fast help came, who looked at the data
// (in words), a relative granted and withdrawn, an erasure request refused with the reason
// while the alarm is open; axe-core finds nothing serious signed out or in.
func TestCitizenPage(t *testing.T) {
	src := axeSource(t)
	b := newBrowser(t)
	st := startStack(t)
	ctx, store, now := t.Context(), st.srv.Store, st.clock.Now()
	// Karen Jensen (citizen 1 of the stack's world) activates her letter's code.
	_, codeHash, err := auth.NewActivationCode()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.IssueActivationCode(ctx, api.Scope{All: true}, 1, codeHash, "mette", now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	token, tokenHash, _ := auth.NewToken()
	if _, _, err := store.Activate(ctx, codeHash, tokenHash, now.Add(24*time.Hour), now); err != nil {
		t.Fatal(err)
	}
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: now, Device: "bu-17:btn", Type: vagt.AlarmPanic})
	var list struct{ Alerts []alerts.Alert }
	waitFor(t, "the alert", func() bool {
		return st.call(t, "anna", "GET", "/api/v1/alerts", "", &list) == http.StatusOK && len(list.Alerts) == 1
	})
	st.clock.Advance(90 * time.Second)
	if code := st.call(t, "anna", "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", list.Alerts[0].ID), "", nil); code != http.StatusOK {
		t.Fatalf("ack: %d", code)
	}

	plan := `{"devices":[{"device":"bu-17:btn","technology":"personal_alarm"},{"device":"fall-1","technology":"fall_detector"}],` +
		`"rules":{"night":"22:00-07:00","inactivity":"6h0m0s"}}`
	if code := st.call(t, "anna", "PUT", "/api/v1/homes/home-0042/config", plan, nil); code != http.StatusOK {
		t.Fatalf("care plan: %d", code)
	}

	b.do("phone size", chromedp.EmulateViewport(360, 740))
	b.do("open the citizen page", chromedp.Navigate(st.proxy.URL+"/mig"), chromedp.WaitVisible("#login-citizen", chromedp.ByID))
	if got := b.text("#login-citizen"); got != "Log ind med MitID" {
		t.Errorf("the sign-in button says %q", got)
	}
	b.axe("citizen-signin", src)
	b.do("sign in with the access key", chromedp.Click("details summary", chromedp.ByQuery),
		chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#mine", chromedp.ByID))
	b.waitJS("the devices", `document.getElementById("devices").textContent.includes("alarm button — Nødkald")`)
	b.waitJS("the alarm and how fast help came", `(t => t.includes("Nødkald") && t.includes("Taget af hjemmeplejen efter 1 min 30 s"))(document.getElementById("alarms").textContent)`)
	b.waitJS("who looked, in words", `(t => t.includes("anna tog en alarm fra dit hjem") && t.includes("Du så din side"))(document.getElementById("log").textContent)`)
	b.waitJS("the care plan in words", `(t => t.includes("Faldsensor er tændt") && t.includes("Om natten er kl. 22:00–07:00") && t.includes("ikke er bevægelse i 6 timer"))(document.getElementById("plan").textContent)`)
	if b.text("#who-name") != "Karen Jensen" {
		t.Errorf("signed in as %q", b.text("#who-name"))
	}
	b.axe("citizen", src)

	b.do("grant Peter access to the alarms", chromedp.SendKeys("#grant-name", "Peter Jensen", chromedp.ByID),
		chromedp.SendKeys("#grant-identity", "610175-4321", chromedp.ByID), chromedp.Click(`#grant-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the grant", `document.querySelector("#relatives button[data-grant]") !== null && document.getElementById("relatives").textContent.includes("Peter Jensen (son)")`)
	b.waitJS("the grant in the log", `document.getElementById("log").textContent.includes("Du gav en pårørende adgang")`)
	b.axe("citizen-grant", src)

	// Peter signs in (the national login's session, issued here without the provider) and
	// sees Karen's alarms only: no devices, no log, no key-box code.
	peter, peterHash, _ := auth.NewToken()
	rel := auth.RelativeUser(auth.IdentityKey(strings.Repeat("k", auth.MinIdentityKey)).Hash("610175-4321"))
	if _, err := store.IssueRelativeSession(ctx, rel, peterHash, st.clock.Now().Add(time.Hour), st.clock.Now()); err != nil {
		t.Fatal(err)
	}
	signInAs := func(tok, visible string) {
		b.do("sign in", chromedp.Evaluate(`sessionStorage.clear()`, nil), chromedp.Reload(), chromedp.WaitVisible("#login-citizen", chromedp.ByID),
			chromedp.Click("details summary", chromedp.ByQuery), chromedp.SendKeys("#token", tok, chromedp.ByID),
			chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(visible, chromedp.ByID))
	}
	signInAs(peter, "#relative")
	b.waitJS("Karen's alarms for her son", `(t => t.includes("Karen Jensen") && t.includes("Nødkald") && t.includes("Taget af hjemmeplejen"))(document.getElementById("granted").textContent)`)
	var leaks bool
	b.do("nothing else", chromedp.Evaluate(`(t => t.includes("alarm button") || t.includes("back door") || t.includes("Hvem har set"))(document.body.innerText)`, &leaks))
	if leaks {
		t.Errorf("the relative sees more than the grant: %s", b.text("#granted"))
	}
	b.axe("citizen-relative", src)
	signInAs(token, "#mine")
	b.waitJS("the son's look in Karen's log", `document.getElementById("log").textContent.includes("Din pårørende så din side")`)

	b.do("withdraw it", chromedp.Click("#relatives button[data-grant]", chromedp.ByQuery))
	b.waitJS("withdrawn", `document.querySelector("#relatives button[data-grant]") === null && document.getElementById("relatives").textContent.includes("Trukket tilbage")`)

	b.do("ask for erasure", chromedp.Evaluate(`window.confirm = () => true`, nil), chromedp.Click("#erase", chromedp.ByID))
	b.waitJS("refused while the alarm is open", `document.getElementById("data-status").textContent.includes("stadig åben")`)

	b.chooseLanguage("en")
	b.waitJS("in English", `document.getElementById("alarms-title").textContent === "My alarms" && document.getElementById("alarms").textContent.includes("Taken by home care after")`)
	b.checkErrors()
}
