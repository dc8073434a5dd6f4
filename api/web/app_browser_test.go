package web_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
)

// TestCareApp drives the care app (/app) on a 360×640 phone in headless Chromium against a
// real vagt api (SQLite, Mosquitto, the alarm lane), with notification permission granted
// through the DevTools protocol (Browser.setPermission): the on-duty switch says whether the
// phone rings and holds a screen wake lock; English on the switch keeps the sound on; with
// the app in a background tab a new critical alarm shows a notification from the service
// worker with "Kvittér" and "Åbn"; the tone repeats until the alert is acknowledged; the
// notification's "Kvittér" acknowledges it as the signed-in user (the audit log says who);
// after a reload with the stored session the sound either works or "Tryk for at slå lyd til"
// shows, and a tap on it makes it sound; one card per citizen, the one who waited longest
// first, no technical ids, every target 48 px; axe finds nothing serious; the next actions
// (Tag → På vej → Ankommet → Afslut, or Kvittér → Afslut without presence) work by keyboard
// alone; of two who take one alarm the second is told who has it; offline (DevTools and the
// server both unreachable), the app opens from its cache with the last list and "Offline
// siden HH:MM", and reconnects by itself.
func TestCareApp(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	front := newSwitchProxy(t, st.proxy.URL)
	admin := st.issue(t, "admin-ida", api.Principal{Role: api.RoleAdmin, Municipality: 766})

	b.do("a phone, notifications allowed for the app's origin",
		chromedp.EmulateViewport(360, 640, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		cdpbrowser.SetPermission(&cdpbrowser.PermissionDescriptor{Name: "notifications"}, cdpbrowser.PermissionSettingGranted).WithOrigin(front.URL))
	b.do("open the app", chromedp.Navigate(front.URL+"/app"), chromedp.WaitVisible("#signin", chromedp.ByID))
	b.axe("app-signin", axeSource(t))
	b.do("sign in with the token (the demo's way)",
		chromedp.SendKeys("#token", st.tokens["anna"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#app", chromedp.ByID))
	b.waitJS("the service worker controls the app", `navigator.serviceWorker.controller !== null`)
	b.waitJS("on duty by default, and this phone rings", `document.getElementById("duty").checked &&
		document.getElementById("duty-status").classList.contains("rings")`)
	b.unlockSound()
	var wake bool
	b.do("is the screen kept on", chromedp.Evaluate(`vagtRing.keepAwake().then(() => vagtRing.status().wake)`, &wake,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if !wake {
		t.Fatal("on duty and in front, the app holds no screen wake lock")
	}
	b.do("off duty", chromedp.Click("#duty", chromedp.ByID))
	b.waitJS("off duty: the phone will not ring, the screen may sleep", `!vagtRing.status().wake &&
		document.getElementById("duty-status").textContent === "Ikke på vagt: denne telefon ringer ikke."`)
	b.do("on duty", chromedp.Click("#duty", chromedp.ByID))
	b.waitJS("on duty again: rings, screen kept on", `vagtRing.status().wake && document.getElementById("duty-status").textContent === "Denne telefon ringer ved nye alarmer."`)
	b.waitJS("Danish texts", `document.documentElement.lang === "da" && document.getElementById("sound").textContent === "Lyd til"`)

	// English on the switch; the sound stays on; back to Danish.
	b.do("choose English", chromedp.SetValue(".lang-switch select", "en", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector(".lang-switch select").dispatchEvent(new Event("change"))`, nil))
	b.waitJS("English texts, the sound still on", `document.documentElement.lang === "en" && document.getElementById("sound").textContent === "Sound on" &&
		document.getElementById("duty-status").textContent === "This phone rings for new alarms." && vagtRing.status().audio === "on"`)
	b.do("choose Danish", chromedp.SetValue(".lang-switch select", "da", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector(".lang-switch select").dispatchEvent(new Event("change"))`, nil))
	b.waitJS("Danish again", `document.getElementById("duty-status").textContent === "Denne telefon ringer ved nye alarmer."`)

	// The app goes to the background: another tab comes to the front.
	other, cancelOther := chromedp.NewContext(b.ctx)
	defer cancelOther()
	b.runIn(other, "another tab in front", chromedp.Navigate("about:blank"), chromedp.ActionFunc(func(ctx context.Context) error {
		return target.ActivateTarget(chromedp.FromContext(ctx).Target.TargetID).Do(ctx)
	}))
	var visibility string
	b.do("the app's visibility", chromedp.Evaluate(`document.visibilityState`, &visibility))
	t.Logf("the app's tab is %s", visibility)

	starts := b.toneStarts()
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: st.clock.Now(), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	b.waitJS("a notification for the panic alarm with Kvittér and Åbn", `navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns =>
		ns.some(n => n.title.startsWith("Nødkald") && n.actions.map(a => a.title).join() === "Kvittér,Åbn" && n.requireInteraction))`)
	b.waitJS("the tone repeats while nobody acknowledges", fmt.Sprintf(`window.__vagtRing.ringing && window.__vagtRing.starts >= %d`, starts+3))
	panicID := b.appAlertID("panic")

	// "Kvittér" from the notification: the service worker acknowledges with anna's token.
	b.do("choose Kvittér on the notification", chromedp.Evaluate(fmt.Sprintf(
		`navigator.serviceWorker.controller.postMessage({type: "notification-action", tag: "vagt-alert-%d", action: "ack"})`, panicID), nil))
	var d alerts.Detail
	waitFor(t, "the alert acknowledged by anna", func() bool {
		return st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", panicID), "", &d) == http.StatusOK && d.State == alerts.StateAcknowledged
	})
	if d.AckedBy != "anna" {
		t.Fatalf("acknowledged by %q, want anna", d.AckedBy)
	}
	var audit struct{ Entries []api.AuditEntry }
	if code := apitest.Call(t, st.base, admin, "GET", fmt.Sprintf("/api/v1/audit?object=alert/%d", panicID), "", &audit); code != http.StatusOK {
		t.Fatalf("audit log: %d", code)
	}
	if !hasAudit(audit.Entries, "anna", "alert.ack") {
		t.Fatalf("the audit log has no alert.ack by anna: %+v", audit.Entries)
	}
	b.waitJS("the tone stops and the notification goes", `!window.__vagtRing.ringing && navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.length === 0)`)
	stopped := b.toneStarts()

	// Karen presses again while nobody has arrived: the alert is raised again — a new
	// notification, the tone again — until "Kvittér" once more.
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 10, Time: st.clock.Now(), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	b.waitJS("the raised-again alarm notifies and rings", fmt.Sprintf(`window.__vagtRing.ringing &&
		document.querySelector('li.item[data-id="%d"]')?.dataset.state === "open" &&
		navigator.serviceWorker.ready.then(r => r.getNotifications({tag: "vagt-alert-%d"})).then(ns => ns.length === 1)`, panicID, panicID))
	b.waitJS("the tone again", fmt.Sprintf(`window.__vagtRing.starts > %d`, stopped))
	b.do("Kvittér again", chromedp.Evaluate(fmt.Sprintf(
		`navigator.serviceWorker.controller.postMessage({type: "notification-action", tag: "vagt-alert-%d", action: "ack"})`, panicID), nil))
	b.waitJS("quiet again", `!window.__vagtRing.ringing`)
	stopped = b.toneStarts()

	// Back in front; a reload with the stored session: the sound works or says it does not.
	cancelOther()
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible("#app", chromedp.ByID))
	b.waitJS("the list after the reload", `document.querySelector('li.item[data-type="panic"]') !== null`)
	var truth struct {
		Audio, Button string
		Banner        bool
	}
	b.do("read the sound state", chromedp.Evaluate(`({Audio: vagtRing.status().audio, Button: document.getElementById("sound").textContent,
		Banner: !document.getElementById("unlock").hidden})`, &truth))
	t.Logf("after the reload: %+v", truth)
	switch truth.Audio {
	case "on":
		if truth.Banner || truth.Button != "Lyd til" {
			t.Fatalf("audio runs but the app says otherwise: %+v", truth)
		}
	case "blocked":
		if !truth.Banner || truth.Button != "Tryk for at slå lyd til" {
			t.Fatalf("audio is blocked and the app does not say so: %+v", truth)
		}
		b.screenshotViewport("app-sound-blocked")
	default:
		t.Fatalf("sound state %+v", truth)
	}
	if n := b.toneStarts(); n != 0 {
		t.Fatalf("%d tones after the reload for an acknowledged alert (%d before)", n, stopped)
	}
	b.unlockSound()
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 2, Time: st.clock.Now(), Device: "fall-1", Type: vagt.AlarmFall})
	b.waitJS("the new critical alarm sounds after the tap", `window.__vagtRing.ringing && window.__vagtRing.starts >= 2`)
	b.waitJS("who and where on the citizen's card", `document.querySelector("li.group h3").textContent === "Karen Jensen" &&
		document.querySelector("li.group .where").textContent.includes("Søndergade 4")`)
	var grouped int
	b.do("one card for Karen's two alerts", chromedp.Evaluate(`document.querySelectorAll("li.group").length * 10 + document.querySelectorAll("li.group li.item").length`, &grouped))
	if grouped != 12 {
		t.Fatalf("groups*10+items = %d, want one citizen with two alerts", grouped)
	}
	// Ole Hansen, in the same district, has waited longer: his card comes first.
	st.secondHome(t, d.District)
	st.alarm(t, vagt.Alarm{Gateway: "gw-0043", Seq: 1, Time: st.clock.Now().Add(-10 * time.Minute), Device: "bu-43:btn", Type: vagt.AlarmPanic})
	b.waitJS("Ole's card first: he has waited longest", `[...document.querySelectorAll("li.group h3")].map(h => h.textContent).join() === "Ole Hansen,Karen Jensen"`)
	oleID := b.appAlertIDIn("Ole Hansen")
	if code := st.call(t, "bo", "POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", oleID), `{"outcome":"false_alarm","seen":{"count":1}}`, nil); code != http.StatusOK {
		t.Fatalf("bo resolves Ole's alert: %d", code)
	}
	b.waitJS("Ole's card gone", `document.querySelectorAll("li.group").length === 1`)
	var text string
	b.do("read the screen", chromedp.Evaluate(`document.getElementById("app").innerText`, &text))
	for _, id := range []string{"gw-0042", "bu-17", "fall-1", "home-0042", "gw-0043", "bu-43"} {
		if strings.Contains(text, id) {
			t.Errorf("the app shows the technical id %q to staff:\n%s", id, text)
		}
	}
	b.checkTargets()
	b.screenshotViewport("app-phone")
	b.axe("app", axeSource(t))

	// By keyboard alone: the fall alert's next actions, then resolve with an outcome.
	fallID := b.appAlertID("fall")
	// "Åbn" on its notification: the app shows the alert with its next action in focus.
	b.waitJS("the fall's notification", fmt.Sprintf(`navigator.serviceWorker.ready.then(r => r.getNotifications({tag: "vagt-alert-%d"})).then(ns => ns.length === 1)`, fallID))
	b.do("choose Åbn on the notification", chromedp.Evaluate(fmt.Sprintf(
		`navigator.serviceWorker.controller.postMessage({type: "notification-action", tag: "vagt-alert-%d", action: "open"})`, fallID), nil))
	b.waitJS("the fall's next action in focus, the notification gone", fmt.Sprintf(`document.activeElement?.dataset.alert === "%d" &&
		navigator.serviceWorker.ready.then(r => r.getNotifications({tag: "vagt-alert-%d"})).then(ns => ns.length === 0)`, fallID, fallID))
	actions := []string{"ack"}
	hasPresence := b.presence()
	if hasPresence {
		actions = []string{"take", "enroute", "arrived"}
	}
	b.do("start from the top", chromedp.Evaluate(`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`, nil))
	for _, a := range actions {
		sel := fmt.Sprintf(`button[data-alert="%d"][data-action="%s"]`, fallID, a)
		b.tabTo(sel)
		b.do(a+" with Enter", chromedp.KeyEvent(kb.Enter))
		b.waitJS(a+" done", `document.querySelector('`+sel+`') === null`)
	}
	b.waitJS("the tone stops once nothing waits", `!window.__vagtRing.ringing`)
	b.tabTo(fmt.Sprintf(`button[data-alert="%d"][data-action="resolve"]`, fallID))
	b.do("open the resolve dialog with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitJS("the dialog with the focus on the outcome", `document.getElementById("resolve").open && document.activeElement.id === "outcome"`)
	b.axe("app-resolve", axeSource(t))
	b.do("choose the outcome with the arrow keys", chromedp.KeyEvent(kb.ArrowDown))
	b.tabTo("#resolve-note")
	b.do("type a note", chromedp.KeyEvent("Faldet, hjulpet op"))
	b.tabTo(`#resolve-form button[type=submit]`)
	b.do("resolve with Enter", chromedp.KeyEvent(kb.Enter))
	b.waitJS("the fall alert leaves the list", fmt.Sprintf(`document.querySelector('li.item[data-id="%d"]') === null`, fallID))
	if code := st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", fallID), "", &d); code != http.StatusOK ||
		d.State != alerts.StateResolved || d.ResolvedBy != "anna" || d.Outcome != alerts.OutcomeVisitedAllWell || !hasNote(d.Notes, "Faldet, hjulpet op") {
		t.Fatalf("the fall alert after the keyboard: %d %+v", code, d.Alert)
	}
	if hasPresence && (d.Assignee == nil || d.Assignee.Name != "anna" || d.EnrouteAt == nil || d.ArrivedAt == nil) {
		t.Fatalf("the fall alert's presence after the keyboard: %+v", d.Alert)
	}

	// Two take the same alarm: Anna's app offers "Tag"; the stream is cut, Bo takes it;
	// Anna's tap learns that Bo has it.
	if hasPresence {
		st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 3, Time: st.clock.Now(), Device: "smoke-1", Type: vagt.AlarmSmoke})
		smokeID := b.appAlertID("smoke")
		take := fmt.Sprintf(`button[data-alert="%d"][data-action="take"]`, smokeID)
		b.do("Tag offered", chromedp.WaitVisible(take, chromedp.ByQuery))
		st.proxy.cut()
		b.do("the app notices the cut", chromedp.WaitVisible("#offline", chromedp.ByID))
		if code := st.call(t, "bo", "POST", fmt.Sprintf("/api/v1/alerts/%d/take", smokeID), "", nil); code != http.StatusOK {
			t.Fatalf("bo takes: %d", code)
		}
		b.do("anna taps Tag", clickInList(take))
		b.waitJS("anna is told bo has it", fmt.Sprintf(`(li => li && li.querySelector(".msg")?.textContent.startsWith("bo har den allerede") &&
			li.querySelector(".state").textContent === "Taget af bo")(document.querySelector('li.item[data-id="%d"]'))`, smokeID))
		b.screenshotViewport("app-taken-by-other")
		st.proxy.restore()
		b.do("the stream is back", chromedp.WaitNotVisible("#offline", chromedp.ByID))
		if code := st.call(t, "bo", "POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", smokeID), `{"outcome":"false_alarm","seen":{"count":1}}`, nil); code != http.StatusOK {
			t.Fatalf("bo resolves: %d", code)
		}
		b.waitJS("the smoke alert gone", fmt.Sprintf(`document.querySelector('li.item[data-id="%d"]') === null`, smokeID))
	}

	// Offline: the network is gone (the browser's and the server's); the app opens from the
	// service worker's cache with the last list and the time it went offline.
	b.do("go offline", network.Enable(), emulateOffline(true))
	front.down.Store(true)
	b.do("reload offline", chromedp.Reload(), chromedp.WaitVisible("#app", chromedp.ByID), chromedp.WaitVisible("#offline", chromedp.ByID))
	b.waitJS("the last known list, offline since HH:MM", `document.querySelector('li.item[data-type="panic"]') !== null &&
		/^Offline siden \d\d:\d\d/.test(document.getElementById("offline").textContent) && document.querySelector("li.group h3").textContent === "Karen Jensen"`)
	b.screenshotViewport("app-offline")
	front.down.Store(false)
	b.do("back online", emulateOffline(false))
	b.do("the app reconnects by itself", chromedp.WaitNotVisible("#offline", chromedp.ByID))
	b.checkErrors()
}

// secondHome registers Ole Hansen's home behind gw-0043 in district.
func (st *stack) secondHome(t *testing.T, district int64) {
	t.Helper()
	ctx, s := t.Context(), st.srv.Store
	cit, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Ole Hansen", Address: "Østergade 9, 8722 Hedensted"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateHome(ctx, "home-0043", district, cit); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterGateway(ctx, "gw-0043", "home-0043"); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterDevice(ctx, "bu-43:btn", "gw-0043", vagt.TechPersonalAlarm, "alarm button"); err != nil {
		t.Fatal(err)
	}
}

// appAlertIDIn is the id of the first alert on a citizen's card.
func (b *browser) appAlertIDIn(citizen string) int64 {
	b.t.Helper()
	var id int64
	b.do("the id of "+citizen+"'s alert", chromedp.Evaluate(`Number([...document.querySelectorAll("li.group")].find(g => g.querySelector("h3").textContent === `+
		strconv.Quote(citizen)+`).querySelector("li.item").dataset.id)`, &id))
	if id == 0 {
		b.t.Fatalf("no alert on %s's card", citizen)
	}
	return id
}

// issue gives a principal a token straight in the store.
func (st *stack) issue(t *testing.T, name string, p api.Principal) string {
	t.Helper()
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	p.Name = name
	if _, err := st.srv.Store.IssueToken(t.Context(), p, hash, nil, st.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return tok
}

func hasAudit(entries []api.AuditEntry, actor, action string) bool {
	for _, e := range entries {
		if e.Actor == actor && e.Action == action {
			return true
		}
	}
	return false
}

func (b *browser) runIn(ctx context.Context, what string, actions ...chromedp.Action) {
	b.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	if err := chromedp.Run(tctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// unlockSound taps "Tryk for at slå lyd til" when the browser holds the audio back (a tap
// is what a browser waits for), and waits until the app says the sound is on.
func (b *browser) unlockSound() {
	b.t.Helper()
	var blocked bool
	b.do("is the sound blocked", chromedp.Evaluate(`!document.getElementById("unlock").hidden`, &blocked))
	if blocked {
		b.do("tap to turn on sound", chromedp.Click("#unlock", chromedp.ByID))
	}
	b.waitJS("the sound is on", `vagtRing.status().audio === "on" && document.getElementById("unlock").hidden`)
}

func (b *browser) toneStarts() int {
	b.t.Helper()
	var n int
	b.do("count the tones", chromedp.Evaluate(`window.__vagtRing.starts`, &n))
	return n
}

func (b *browser) appAlertID(typ string) int64 {
	b.t.Helper()
	var id int64
	b.waitJS("the "+typ+" alert in the app", `document.querySelector('li.item[data-type="`+typ+`"]') !== null`)
	b.do("the id of the "+typ+" alert", chromedp.Evaluate(`Number(document.querySelector('li.item[data-type="`+typ+`"]').dataset.id)`, &id))
	return id
}

// presence: the api offers take / enroute / arrived (issue 21 item 3), as the app sees it.
func (b *browser) presence() bool {
	b.t.Helper()
	var yes bool
	b.do("does the api have presence", chromedp.Evaluate(`fetch("/openapi.yaml").then(r => r.text()).then(s => s.includes("/alerts/{id}/take:"))`, &yes,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	b.t.Logf("presence routes: %v", yes)
	return yes
}

// checkTargets: every button and link on the app's screen is at least 48 px high (one
// thumb on a phone).
func (b *browser) checkTargets() {
	b.t.Helper()
	var small []string
	b.do("measure the targets", chromedp.Evaluate(`[...document.querySelectorAll("#app button, #app a, #app input, #app select, #unlock")]
		.map(e => e.closest("label") || e)
		.filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 48)
		.map(e => (e.id || e.textContent.trim()) + ": " + e.getBoundingClientRect().height)`, &small))
	for _, s := range small {
		b.t.Errorf("target under 48 px: %s", s)
	}
}

// switchProxy stands between the browser and the rest; while down it answers nothing at
// all (the connection is closed), as a phone without a network sees it.
type switchProxy struct {
	URL  string
	down atomic.Bool
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ErrorLog = log.New(io.Discard, "", 0) // a stream cut mid-copy is what the test does
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + ln.Addr().String()
	return p
}

// emulateOffline is DevTools' "Offline" for the page (Network.emulateNetworkConditionsByRule).
func emulateOffline(off bool) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := network.EmulateNetworkConditionsByRule(off, []*network.Conditions{{DownloadThroughput: -1, UploadThroughput: -1}}).Do(ctx)
		return err
	})
}
