package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// patience bounds every wait for something that must happen; it is not a latency target.
const patience = 30 * time.Second

// defaultChromium is Debian's Chromium (.ci/run and `make tools` install it); VAGT_CHROMIUM
// names another.
const defaultChromium = "/usr/bin/chromium"

// TestConsole drives the care console in headless Chromium against a real vagt api (SQLite
// store, Mosquitto, the alarm lane): alarms published on the broker appear without a
// reload, critical first; the detail view shows who and where and takes a note; a second
// acknowledgement learns who was first; a cut stream shows the banner and, once back,
// misses nothing; acknowledge and resolve by clicks take the alert off the list; a wrong
// and an expired token send the user back to sign in with a message. It is Danish (in an
// English-speaking browser) until English is chosen with the switch, which redraws the
// live list in English without a reload.
func TestConsole(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)

	// A wrong token: the sign-in form says so.
	b.do("open the console", chromedp.Navigate(st.proxy.URL+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in with a wrong token",
		chromedp.SendKeys("#token", "vagt_not-a-real-token", chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#signin-error", chromedp.ByID))
	if msg := b.text("#signin-error"); !strings.Contains(msg, "ikke godtaget") {
		t.Fatalf("sign-in message for a wrong token: %q", msg)
	}
	b.screenshot("signin-wrong-token")

	// Anna signs in to an empty list, then alarms arrive over the broker.
	b.signIn(st.tokens["anna"])
	b.do("the empty list", chromedp.WaitVisible("#empty", chromedp.ByID))
	now := st.clock.Now()
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: now.Add(-90 * time.Second), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 2, Time: now.Add(-20 * time.Second), Device: "fall-1", Type: vagt.AlarmFall})
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 3, Time: now.Add(-5 * time.Minute), Device: "door-1", Type: vagt.AlarmDoorAtNight})
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 4, Time: now.Add(-2 * time.Hour), Device: "pir-2", Type: vagt.AlarmLowBattery})
	for _, typ := range []string{"panic", "fall", "door_at_night", "low_battery"} {
		b.do("the "+typ+" alert in the list", chromedp.WaitVisible(card(typ), chromedp.ByQuery))
	}
	b.waitJS("who and where on the panic card",
		`(c => c && c.textContent.includes("Karen Jensen") && c.textContent.includes("Søndergade 4"))(document.querySelector('`+card("panic")+`'))`)
	var order []string
	b.do("read the order", chromedp.Evaluate(`[...document.querySelectorAll("li.alert")].map(li => li.dataset.type)`, &order))
	if strings.Join(order, ",") != "fall,panic,door_at_night,low_battery" {
		t.Fatalf("order %v, want the newest critical first, then high, then technical", order)
	}
	// Nobody acknowledges: the critical alerts go to the backup after 60 s.
	st.clock.Advance(61 * time.Second)
	b.waitJS("the panic alert escalated to the backup",
		`document.querySelector('`+card("panic")+` .level.up')?.textContent.includes("bagvagt")`)
	// The critical alarm nobody has taken pulses; the time since the alarm keeps counting.
	b.waitJS("the critical cue", `getComputedStyle(document.querySelector('`+card("panic")+`')).animationName === "pulse" &&
		getComputedStyle(document.querySelector('`+card("door_at_night")+`')).animationName === "none"`)
	var since string
	b.do("read the time since the panic alarm", chromedp.Text(card("panic")+" .since", &since, chromedp.ByQuery))
	b.waitJS("the time since the alarm to tick", `document.querySelector('`+card("panic")+` .since').textContent !== `+strconv.Quote(since))
	b.screenshot("console-desktop")
	b.do("phone size", chromedp.EmulateViewport(390, 844))
	b.screenshot("console-phone")
	b.do("desktop size", chromedp.EmulateViewport(1280, 900))

	// The detail view: key information and devices; a note.
	b.do("open the panic alert's detail",
		clickInList(card("panic")+` button[data-action=detail]`),
		chromedp.WaitVisible("#detail .citizen-name", chromedp.ByQuery))
	b.waitJS("the key-box note, the contact and both devices", `(d => d.querySelector(".keybox")?.textContent.includes("back door") &&
		d.textContent.includes("Peter Jensen") && d.querySelectorAll("table.devices tbody tr").length === 2)(document.getElementById("detail"))`)
	b.do("add a note",
		chromedp.SendKeys("#note-text", "Neighbour has a key too", chromedp.ByID),
		chromedp.Click(`#note-form button[type=submit]`, chromedp.ByQuery))
	b.waitJS("the note in the detail", `document.querySelector("#detail .notes")?.textContent.includes("Neighbour has a key too")`)
	b.screenshotViewport("detail")
	b.do("phone size", chromedp.EmulateViewport(390, 844))
	b.screenshotViewport("detail-phone")
	b.do("desktop size", chromedp.EmulateViewport(1280, 900))
	b.do("close the detail", chromedp.Click(`#detail button[data-close]`, chromedp.ByQuery), chromedp.WaitNotVisible("#detail", chromedp.ByID))

	// The stream is cut: the banner shows. Meanwhile Bo acknowledges the fall, Anna tries
	// too (her list has not heard yet) and learns Bo was first, and a smoke alarm comes.
	st.proxy.cut()
	b.do("the disconnected banner", chromedp.WaitVisible("#banner", chromedp.ByID))
	fallID := b.alertID("fall")
	if code := st.call(t, "bo", "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", fallID), "", nil); code != http.StatusOK {
		t.Fatalf("bo acknowledges: %d", code)
	}
	b.do("anna acknowledges the fall too", clickInList(card("fall")+` button[data-action=ack]`))
	b.waitJS("who was first", `document.querySelector('`+card("fall")+` .msg')?.textContent.includes("af bo")`)
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 5, Time: st.clock.Now(), Device: "smoke-1", Type: vagt.AlarmSmoke})
	b.screenshot("console-disconnected")
	st.proxy.restore()
	b.do("the banner goes when the stream is back", chromedp.WaitNotVisible("#banner", chromedp.ByID))
	b.do("the smoke alarm raised while disconnected", chromedp.WaitVisible(card("smoke"), chromedp.ByQuery))
	b.waitJS("bo's acknowledgement made while disconnected",
		`document.querySelector('`+card("fall")+`')?.dataset.state === "acknowledged" && document.querySelector('`+card("fall")+` .state').textContent.includes("bo")`)

	// Anna acknowledges and resolves the panic alert by clicks; it leaves the list.
	panicID := b.alertID("panic")
	b.do("acknowledge the panic alert from its detail view",
		clickInList(card("panic")+` button[data-action=detail]`),
		chromedp.WaitVisible(`#detail button[data-detail-action=ack]`, chromedp.ByQuery),
		chromedp.Click(`#detail button[data-detail-action=ack]`, chromedp.ByQuery))
	b.waitJS("the panic alert acknowledged by anna", `document.querySelector('`+card("panic")+`')?.dataset.state === "acknowledged" &&
		document.getElementById("detail-body").textContent.includes("kvitteret af anna")`)
	b.do("close the detail", chromedp.Click(`#detail button[data-close]`, chromedp.ByQuery), chromedp.WaitNotVisible("#detail", chromedp.ByID))
	b.do("resolve the panic alert",
		clickInList(card("panic")+` button[data-action=resolve]`),
		chromedp.WaitVisible("#resolve", chromedp.ByID),
		chromedp.SetValue("#outcome", "visited_help_given", chromedp.ByID),
		chromedp.SendKeys("#resolve-note", "Helped her up, no injury", chromedp.ByID),
		chromedp.Click(`#resolve-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(card("panic"), chromedp.ByQuery))
	var resolved alerts.Detail
	if code := st.call(t, "bo", "GET", fmt.Sprintf("/api/v1/alerts/%d", panicID), "", &resolved); code != http.StatusOK ||
		resolved.State != alerts.StateResolved || resolved.ResolvedBy != "anna" || resolved.Outcome != alerts.OutcomeVisitedHelpGiven ||
		resolved.AckedBy != "anna" {
		t.Fatalf("the panic alert after the clicks: %d %+v", code, resolved.Alert)
	}
	if !hasNote(resolved.Notes, "Helped her up, no injury") || !hasNote(resolved.Notes, "Neighbour has a key too") {
		t.Fatalf("notes %+v", resolved.Notes)
	}

	// English by the switch in the header: the list is redrawn in English, the stream stays.
	var lang string
	b.do("the page's language", chromedp.Evaluate(`document.documentElement.lang`, &lang))
	if lang != "da" {
		t.Fatalf("<html lang=%q>, want da", lang)
	}
	b.chooseLanguage("en")
	b.waitJS("the list in English", `document.documentElement.lang === "en" && document.getElementById("status").textContent === "Live" &&
		document.querySelector('`+card("fall")+` .state').textContent.startsWith("Acknowledged by bo") &&
		document.querySelector('`+card("fall")+` .badge.prio').textContent === "critical" &&
		document.getElementById("sound-toggle").textContent === "Sound on"`)
	b.screenshot("console-english")

	// Anna's token expires; the console notices at its next request and asks her to sign in.
	st.clock.Advance(2 * time.Hour)
	st.proxy.cut()
	st.proxy.restore()
	b.do("back at sign-in", chromedp.WaitVisible("#signin-error", chromedp.ByID))
	if msg := b.text("#signin-error"); !strings.Contains(msg, "expired") {
		t.Fatalf("sign-in message for an expired token: %q", msg)
	}
	var stored string
	b.do("the token is gone", chromedp.Evaluate(`sessionStorage.getItem("vagt.token") || ""`, &stored))
	if stored != "" {
		t.Fatal("the expired token stays in sessionStorage")
	}
	b.checkErrors()
}

func hasNote(notes []alerts.Note, text string) bool {
	for _, n := range notes {
		if strings.Contains(n.Text, text) {
			return true
		}
	}
	return false
}

// card selects an alert's card by its type.
func card(typ string) string { return `li.alert[data-type="` + typ + `"]` }

// clickInList clicks a button on an alert in a list (a console card, an app item). A list
// redraws its items on every change the stream brings, so the node chromedp found can be
// gone before its click lands ("Could not find node with given id", seen in CI); the click
// is then tried again on the item drawn in its place, as a person taps the button they now
// see. The failure comes before the mouse events are sent, so no click lands twice.
func clickInList(sel string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			err := chromedp.Click(sel, chromedp.ByQuery).Do(ctx)
			if err == nil || !redrawn(err) {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// redrawn says whether a click failed because its node left the document between finding
// and clicking it.
func redrawn(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Could not find node with given id") || strings.Contains(s, "Node is detached") ||
		strings.Contains(s, "Cannot find context with specified id")
}

// ---- the stack: Mosquitto, vagt api, a cuttable proxy in front ----

type stack struct {
	srv    *server.Server
	base   string // the API itself
	proxy  *cutProxy
	clock  *api.ManualClock
	tokens map[string]string
	gw     mqtt.Client
	broker *localstack.Mosquitto
}

func startStack(t *testing.T) *stack {
	t.Helper()
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	clock := api.NewManualClock(time.Now().Truncate(time.Second))
	srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"),
		Broker: broker.URL(), ClientID: "vagt-api-browser", Tick: 20 * time.Millisecond, FeedPoll: 200 * time.Millisecond,
		NationalLogin: auth.NationalLoginConfig{Key: auth.IdentityKey(strings.Repeat("k", auth.MinIdentityKey))}}, // the citizen page's grants
		server.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("api: %v", err)
		}
	})
	st := &stack{srv: srv, base: "http://" + srv.Addr(), clock: clock, tokens: map[string]string{}, broker: broker}
	waitFor(t, "the alarm lane to subscribe", func() bool { return srv.AlarmLane().Connected() })
	st.world(t)
	st.proxy = newCutProxy(t, st.base)

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID(fmt.Sprintf("gw-browser-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	st.gw = c
	return st
}

// world registers Karen Jensen's home behind gw-0042 in district Nord with two devices,
// and issues tokens: anna's expires in an hour of the API's clock.
func (st *stack) world(t *testing.T) {
	t.Helper()
	ctx, s := t.Context(), st.srv.Store
	north, err := s.CreateDistrict(ctx, 766, "Nord")
	if err != nil {
		t.Fatal(err)
	}
	cit, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen", Address: "Søndergade 4, 8722 Hedensted",
		KeyBoxNote: "key box by the back door, code on the rota", Contacts: []api.Contact{{Name: "Peter Jensen", Phone: "+45 20 30 40 50", Relation: "son"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateHome(ctx, "home-0042", north, cit); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterGateway(ctx, "gw-0042", "home-0042"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		id    vagt.DeviceID
		tech  vagt.Technology
		label string
	}{{"bu-17:btn", vagt.TechPersonalAlarm, "alarm button"}, {"fall-1", vagt.TechFallDetector, "fall detector, bedroom"}} {
		if err := s.RegisterDevice(ctx, d.id, "gw-0042", d.tech, d.label); err != nil {
			t.Fatal(err)
		}
	}
	expires := st.clock.Now().Add(time.Hour)
	for name, p := range map[string]api.Principal{
		"anna": {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
		"bo":   {Role: api.RoleStaff, Municipality: 766, Districts: []int64{north}},
	} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		p.Name = name
		var exp *time.Time
		if name == "anna" {
			exp = &expires
		}
		if _, err := s.IssueToken(ctx, p, hash, exp, st.clock.Now()); err != nil {
			t.Fatal(err)
		}
		st.tokens[name] = tok
	}
	// Anna and Bo are on duty around the clock and Anna is the backup too: the console she
	// keeps open hears the alerts, so they wait for their deadlines (docs/alerts.md).
	if _, err := s.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: north, Shifts: roster.DayAndNight([]string{"anna", "bo"}, []string{"anna", "bo"},
		roster.Backup{User: "anna"})}, "admin", st.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

func (st *stack) alarm(t *testing.T, a vagt.Alarm) {
	t.Helper()
	a.Municipality = 766
	a.Priority = a.Type.Priority()
	b, err := vagt.EncodeAlarm(&a)
	if err != nil {
		t.Fatal(err)
	}
	if tok := st.gw.Publish(vagt.Topic(a.Gateway, vagt.LaneAlarm), 1, false, b); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

// call does an API request as user, straight to the API, and decodes the answer into out.
func (st *stack) call(t *testing.T, user, method, path, body string, out any) int {
	t.Helper()
	return apitest.Call(t, st.base, st.tokens[user], method, path, body, out)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, patience, cond)
}

// cutProxy stands between the browser and the API. cut drops every open alert stream and
// refuses new ones (the connection is closed without an answer, as a network drop would),
// until restore; other requests pass.
type cutProxy struct {
	URL   string
	mu    sync.Mutex
	down  bool
	conns map[*http.Request]context.CancelFunc
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{conns: map[*http.Request]context.CancelFunc{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ErrorLog = nil
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/alerts/stream" {
			rp.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		p.conns[r] = cancel
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.conns, r)
			p.mu.Unlock()
			cancel()
		}()
		rp.ServeHTTP(w, r.WithContext(ctx))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + ln.Addr().String()
	return p
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, cancel := range p.conns {
		cancel()
	}
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// ---- the browser ----

type browser struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// newBrowser starts headless Chromium with a fresh profile. Without Chromium the test is
// skipped, or fails when VAGT_REQUIRE_SERVICES=1.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	chromiumPath := defaultChromium
	if p := os.Getenv("VAGT_CHROMIUM"); p != "" {
		chromiumPath = p
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatalf("chromium is required (%s=1) and not installed: apt-get install chromium", stacktest.RequireEnv)
		}
		t.Skipf("chromium is not installed (%v): apt-get install chromium", err)
	}
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skipf("chromium: %v", err)
	}
	// A fresh profile per test. Not t.TempDir: Chromium's helper processes can still be
	// writing to it for a moment after the browser exits, and the test would fail on
	// TempDir's removal.
	profile, err := os.MkdirTemp("", "vagt-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		// chromedp does not know every event this Chromium sends; those are noise.
		if !strings.HasPrefix(format, "unhandled") {
			t.Logf(format, args...)
		}
	}))
	t.Cleanup(func() {
		cancel()
		acancel() // waits for the browser process to exit
		for try := 0; ; try++ {
			if err := os.RemoveAll(profile); err == nil || try == 50 {
				if err != nil {
					t.Logf("chromium profile %s left behind: %v", profile, err)
				}
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	b := &browser{t: t, ctx: ctx}
	// The first Run starts the browser and must not have a deadline of its own: the
	// browser lives as long as the context of that Run.
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 900), b.watch()); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// watch records the tab's uncaught exceptions and makes every page it opens record what
// its Content-Security-Policy blocked, before any of the page's own scripts run
// (checkErrors reads both).
func (b *browser) watch() chromedp.Action {
	chromedp.ListenTarget(b.ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			b.mu.Lock()
			b.errors = append(b.errors, e.ExceptionDetails.Error())
			b.mu.Unlock()
		}
	})
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.__cspViolations = [];
			document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));`).Do(ctx)
		return err
	})
}

func (b *browser) do(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, patience)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.screenshot("failed")
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until a JavaScript expression is true.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	b.do(what, chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(patience), chromedp.WithPollingInterval(50*time.Millisecond)))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.do("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

func (b *browser) signIn(token string) {
	b.t.Helper()
	b.do("sign in",
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#console", chromedp.ByID))
}

func (b *browser) alertID(typ string) int64 {
	b.t.Helper()
	var id int64
	b.do("the id of the "+typ+" alert", chromedp.Evaluate(`Number(document.querySelector('`+card(typ)+`').dataset.id)`, &id))
	if id == 0 {
		b.t.Fatalf("no %s alert", typ)
	}
	return id
}

// screenshot saves the whole page as artifacts/screenshots/<name>.png at the module root.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	var png []byte
	b.shoot(name, chromedp.FullScreenshot(&png, 100), &png)
}

// screenshotViewport saves what the screen shows (a modal dialog covers the screen, not
// the page).
func (b *browser) screenshotViewport(name string) {
	b.t.Helper()
	var png []byte
	b.shoot(name, chromedp.CaptureScreenshot(&png), &png)
}

func (b *browser) shoot(name string, action chromedp.Action, png *[]byte) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, patience)
	defer cancel()
	if err := chromedp.Run(ctx, action); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join(moduleRoot(b.t), "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), *png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// checkErrors fails the test on any uncaught JavaScript exception the pages threw and on
// anything the current page's Content-Security-Policy blocked.
func (b *browser) checkErrors() {
	b.t.Helper()
	var blocked []string
	b.do("read the CSP violations", chromedp.Evaluate(`window.__cspViolations || []`, &blocked))
	for _, v := range blocked {
		b.t.Errorf("blocked by the Content-Security-Policy: %s", v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("uncaught JavaScript exception: %s", e)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
