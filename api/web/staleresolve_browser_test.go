package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// TestConsoleResolveStaleView: Anna opens the resolve dialog on a panic alert with one
// press and chooses "false alarm"; Karen presses again before Anna submits. The console
// must not close the new press: the api refuses the resolve (409 stale), the dialog stays
// open and shows the second press with a Danish message, Anna's outcome and note are kept,
// and only her second "Afslut", on what she now sees, closes the alert.
func TestConsoleResolveStaleView(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	b.do("open the console", chromedp.Navigate(st.proxy.URL+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.signIn(st.tokens["anna"])
	now := st.clock.Now()
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: now, Device: "bu-17:btn", Type: vagt.AlarmPanic})
	b.do("the panic alert in the list", chromedp.WaitVisible(card("panic"), chromedp.ByQuery))
	id := b.alertID("panic")

	b.do("anna opens the resolve dialog and decides: false alarm",
		clickInList(card("panic")+` button[data-action=resolve]`),
		chromedp.WaitVisible("#resolve", chromedp.ByID),
		chromedp.SetValue("#outcome", "false_alarm", chromedp.ByID),
		chromedp.SendKeys("#resolve-note", "Trykket ved en fejl", chromedp.ByID))
	a := resolveRefusedAsStale(t, b, st, id)
	if a.State != alerts.StateOpen || a.ResolvedAt != nil {
		t.Fatalf("the alert after the refused resolve: %+v, want open", a)
	}
	b.screenshotViewport("console-resolve-stale")

	// Anna looked again and confirms: now it closes.
	b.do("anna confirms", chromedp.Click(`#resolve-form button[type=submit]`, chromedp.ByQuery), chromedp.WaitNotPresent(card("panic"), chromedp.ByQuery))
	var d alerts.Detail
	if code := st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", &d); code != http.StatusOK ||
		d.State != alerts.StateResolved || d.Outcome != alerts.OutcomeFalseAlarm || d.Count != 2 || !hasNote(d.Notes, "Trykket ved en fejl") {
		t.Fatalf("the alert after the confirmation: %d %+v notes %+v", code, d.Alert, d.Notes)
	}
	b.checkErrors()
}

// TestAppResolveStaleView: the care app's resolve dialog does what the console's does when
// the citizen presses again before the resolve is sent (the re-read both share, common.js
// rereadStale): the api refuses it (409 stale), the dialog stays open with the second press
// and a Danish message, the chosen outcome and note are kept, and the second "Afslut", on
// what Anna now sees, closes the alert.
func TestAppResolveStaleView(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	b.do("open the app", chromedp.Navigate(st.proxy.URL+"/app"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in", chromedp.SendKeys("#token", st.tokens["anna"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app", chromedp.ByID))
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: st.clock.Now(), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	id := b.appAlertID("panic")
	if code := st.call(t, "anna", "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", id), "", nil); code != http.StatusOK {
		t.Fatalf("anna acknowledges: %d", code)
	}
	resolve := fmt.Sprintf(`button[data-alert="%d"][data-action="resolve"]`, id)
	b.do("anna opens the resolve dialog and decides: false alarm",
		chromedp.WaitVisible(resolve, chromedp.ByQuery),
		clickInList(resolve),
		chromedp.WaitVisible("#resolve", chromedp.ByID),
		chromedp.SetValue("#outcome", "false_alarm", chromedp.ByID),
		chromedp.SendKeys("#resolve-note", "Trykket ved en fejl", chromedp.ByID))
	a := resolveRefusedAsStale(t, b, st, id)
	if a.State == alerts.StateResolved || a.ResolvedAt != nil {
		t.Fatalf("the alert after the refused resolve: %+v, want not resolved", a)
	}

	b.do("anna confirms", chromedp.Click(`#resolve-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(fmt.Sprintf(`li.item[data-id="%d"]`, id), chromedp.ByQuery))
	var d alerts.Detail
	if code := st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", &d); code != http.StatusOK ||
		d.State != alerts.StateResolved || d.Outcome != alerts.OutcomeFalseAlarm || d.Count != 2 || !hasNote(d.Notes, "Trykket ved en fejl") {
		t.Fatalf("the alert after the confirmation: %d %+v notes %+v", code, d.Alert, d.Notes)
	}
	b.checkErrors()
}

// resolveRefusedAsStale: with the resolve dialog open on alert id (one press) and "false
// alarm" and a note chosen, Karen presses again; Anna's submit is refused as stale: the
// dialog stays open, says so in Danish, shows both presses and keeps the outcome and the
// note. It returns the alert as the api has it after the refusal.
func resolveRefusedAsStale(t *testing.T, b *browser, st *stack, id int64) alerts.Alert {
	t.Helper()
	if got := b.text("#resolve-presses"); !strings.HasPrefix(got, "1 tryk") {
		t.Fatalf("the dialog shows %q, want the one press", got)
	}

	// Karen presses again while the dialog is open.
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 2, Time: st.clock.Now(), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	var a alerts.Alert
	waitFor(t, "the second press folded into the alert", func() bool {
		return st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", &a) == http.StatusOK && a.Count == 2
	})

	b.do("anna submits what she saw", chromedp.Click(`#resolve-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("told of the new press, in Danish, with the dialog open", `(e => !e.hidden && e.textContent.includes("trykket igen") &&
		e.textContent.includes("2 tryk"))(document.getElementById("resolve-error")) && document.getElementById("resolve").open`)
	b.waitJS("the dialog shows both presses", `document.getElementById("resolve-presses").textContent.startsWith("2 tryk")`)
	var outcome, note string
	b.do("read the dialog", chromedp.Value("#outcome", &outcome, chromedp.ByID), chromedp.Value("#resolve-note", &note, chromedp.ByID))
	if outcome != "false_alarm" || note != "Trykket ved en fejl" {
		t.Errorf("the dialog after the refusal: outcome %q, note %q; want Anna's choice kept", outcome, note)
	}
	if code := st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", &a); code != http.StatusOK {
		t.Fatalf("read the alert after the refused resolve: %d", code)
	}
	return a
}
