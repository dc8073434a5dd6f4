package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/apitest"
)

// TestCareAppRelease: anna takes a panic alarm in the care app, and "Slip" (release) hands
// it back by keyboard alone: the alert is open again with nobody on it (the API and the
// audit log say so), her phone rings for it again and offers "Tag". The button is in the
// catalogue in both languages and axe finds nothing serious with it on the screen.
func TestCareAppRelease(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	front := newSwitchProxy(t, st.proxy.URL)
	admin := st.issue(t, "admin-ida", api.Principal{Role: api.RoleAdmin, Municipality: 766})
	b.openApp("anna", front.URL, st.tokens["anna"])
	if !b.presence() {
		t.Fatal("the api has no presence routes: the app offers no take and no release")
	}

	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: st.clock.Now(), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	id := b.appAlertID("panic")
	take := fmt.Sprintf(`button[data-alert="%d"][data-action="take"]`, id)
	release := fmt.Sprintf(`button[data-alert="%d"][data-action="release"]`, id)
	b.waitJS("Tag offered, the phone rings", fmt.Sprintf(`document.querySelector('%s') !== null && window.__vagtRing.ringing`, take))
	b.do("start from the top", chromedp.Evaluate(`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`, nil))
	b.tabTo(take)
	b.do("Tag with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitJS("taken: Slip offered, quiet", fmt.Sprintf(`(b => b && b.textContent === "Slip")(document.querySelector('%s')) &&
		document.querySelector('%s') === null && !window.__vagtRing.ringing`, release, take))
	var d alerts.Detail
	if code := st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", &d); code != http.StatusOK || d.Assignee == nil || d.Assignee.Name != "anna" {
		t.Fatalf("after anna's Tag: %d %+v", code, d.Alert)
	}
	b.checkTargets()
	b.axe("app-release", axeSource(t))
	b.chooseAppLanguage("en")
	b.waitJS("Release in English", fmt.Sprintf(`document.querySelector('%s').textContent === "Release"`, release))
	b.chooseAppLanguage("da")
	b.waitJS("Slip in Danish", fmt.Sprintf(`document.querySelector('%s').textContent === "Slip"`, release))
	b.screenshotViewport("app-release")

	b.tabTo(release)
	b.do("Slip with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitJS("released: open again, Tag offered, the phone rings, told so", fmt.Sprintf(`document.querySelector('%s') === null &&
		document.querySelector('%s') !== null && document.querySelector('li.item[data-id="%d"]').dataset.state === "open" &&
		window.__vagtRing.ringing && document.getElementById("toast").textContent.startsWith("Du har sluppet alarmen")`, release, take, id))
	d = alerts.Detail{} // a field the answer leaves out must not keep the last answer's value
	if code := st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", &d); code != http.StatusOK ||
		d.State != alerts.StateOpen || d.Assignee != nil {
		t.Fatalf("after anna's Slip the alert is not free: %d state %s assignee %+v", code, d.State, d.Assignee)
	}
	var audit struct{ Entries []api.AuditEntry }
	if code := apitest.Call(t, st.base, admin, "GET", fmt.Sprintf("/api/v1/audit?object=alert/%d", id), "", &audit); code != http.StatusOK {
		t.Fatalf("audit log: %d", code)
	}
	if !hasAudit(audit.Entries, "anna", "alert.release") {
		t.Fatalf("the audit log has no alert.release by anna: %+v", audit.Entries)
	}
	// Bo can take it now.
	if code := st.call(t, "bo", "POST", fmt.Sprintf("/api/v1/alerts/%d/take", id), "", nil); code != http.StatusOK {
		t.Fatalf("bo takes the released alert: %d", code)
	}
	b.waitJS("anna's app: taken by bo, nothing to do", fmt.Sprintf(`(li => li.querySelector(".state").textContent === "Taget af bo" &&
		li.querySelector("button") === null)(document.querySelector('li.item[data-id="%d"]')) && !window.__vagtRing.ringing`, id))
	b.checkErrors()
}

// TestCareAppOverdueTakeOver: anna takes a panic alarm and goes silent (no "on my way");
// when the deadline passes (the API's clock moves past one escalation step), bo's phone,
// quiet while anna had it, rings again and offers "Overtag" with the reason on the card;
// bo takes it over, and both phones go quiet with bo on it. Without the overdue case in the
// app's waiting() (b919231), bo's phone stays silent and offers nothing: this test fails.
func TestCareAppOverdueTakeOver(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	// Two phones: a tab each, on origins of their own (their own storage and session).
	annaURL, boURL := newSwitchProxy(t, st.proxy.URL).URL, newSwitchProxy(t, st.proxy.URL).URL
	bo := b.newTab()
	bo.openApp("bo", boURL, st.tokens["bo"])
	b.front()
	b.openApp("anna", annaURL, st.tokens["anna"])
	if !b.presence() {
		t.Fatal("the api has no presence routes: nobody can be overdue")
	}

	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: st.clock.Now(), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	id := b.appAlertID("panic")
	take := fmt.Sprintf(`button[data-alert="%d"][data-action="take"]`, id)
	bo.waitJS("bo's phone rings for the new alarm", fmt.Sprintf(`document.querySelector('%s') !== null && window.__vagtRing.ringing`, take))
	b.do("anna taps Tag", chromedp.WaitVisible(take, chromedp.ByQuery), clickInList(take))
	bo.waitJS("bo's phone: taken by anna, quiet, nothing to do", fmt.Sprintf(`(li => li && li.querySelector(".state").textContent === "Taget af anna" &&
		li.querySelector("button") === null)(document.querySelector('li.item[data-id="%d"]')) && !window.__vagtRing.ringing`, id))

	// Anna says nothing more; one escalation step (60 s for critical) passes.
	st.clock.Advance(61 * time.Second)
	var d alerts.Detail
	waitFor(t, "anna overdue in the API", func() bool {
		d = alerts.Detail{}
		return st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", &d) == http.StatusOK && d.OverdueAt != nil
	})
	bo.front()
	bo.waitJS("bo's phone rings and offers Overtag", fmt.Sprintf(`(li => li && li.querySelector(".state").textContent.startsWith("anna er forsinket") &&
		li.querySelector('%s')?.textContent === "Overtag")(document.querySelector('li.item[data-id="%d"]')) && window.__vagtRing.ringing`, take, id))
	bo.screenshotViewport("app-overdue-take-over")
	bo.do("bo taps Overtag", clickInList(take))
	waitFor(t, "bo holds the alert", func() bool {
		d = alerts.Detail{} // fields the answer leaves out must not keep the last answer's values
		return st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", &d) == http.StatusOK &&
			d.Assignee != nil && d.Assignee.Name == "bo" && d.OverdueAt == nil
	})
	bo.waitJS("bo's phone quiet, on my way offered", fmt.Sprintf(`document.querySelector('button[data-alert="%d"][data-action="enroute"]') !== null &&
		!window.__vagtRing.ringing`, id))
	b.waitJS("anna's phone: taken by bo, quiet, nothing to do", fmt.Sprintf(`(li => li.querySelector(".state").textContent === "Taget af bo" &&
		li.querySelector("button") === null)(document.querySelector('li.item[data-id="%d"]')) && !window.__vagtRing.ringing`, id))
	b.checkErrors()
	bo.checkErrors()
}

// openApp opens the care app at base as a phone and signs in with token.
func (b *browser) openApp(who, base, token string) {
	b.t.Helper()
	b.do(who+"'s phone", chromedp.EmulateViewport(360, 640, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.do(who+" opens the app", chromedp.Navigate(base+"/app"), chromedp.WaitVisible("#signin", chromedp.ByID))
	b.do(who+" signs in",
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#app", chromedp.ByID))
}

// chooseAppLanguage uses the app's language menu.
func (b *browser) chooseAppLanguage(lang string) {
	b.t.Helper()
	b.do("choose "+lang, chromedp.SetValue(".lang-switch select", lang, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector(".lang-switch select").dispatchEvent(new Event("change"))`, nil))
	b.waitJS("the app in "+lang, `document.documentElement.lang === "`+lang+`"`)
}

// newTab opens another tab of the same browser, watched as the first is.
func (b *browser) newTab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	tab := &browser{t: b.t, ctx: ctx}
	// The tab lives as long as ctx: its first Run has no deadline of its own.
	if err := chromedp.Run(ctx, tab.watch()); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	return tab
}

// front brings this tab to the front (the one the keyboard and the screen are on).
func (b *browser) front() {
	b.t.Helper()
	b.do("bring the tab to the front", chromedp.ActionFunc(func(ctx context.Context) error {
		return target.ActivateTarget(chromedp.FromContext(ctx).Target.TargetID).Do(ctx)
	}))
}
