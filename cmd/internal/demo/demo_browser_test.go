package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt/cmd/internal/demo"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// villageCard is a card of a village alarm in the console's list.
const villageCard = `li.alert[data-type="panic"], li.alert[data-type="fall"], li.alert[data-type="water_leak"]`

// TestDemoInPhoneWindow runs the demo and follows its printed steps in headless Chromium
// in a 360×640 window: the staff token's console shows an alarm of the village with the
// citizen its printed line names, acknowledges and resolves it by taps; the backup's
// console, signed in with the backup token, gets an alarm nobody answered once it
// escalated. The care app (/app) is skipped where this build does not serve it.
func TestDemoInPhoneWindow(t *testing.T) {
	if _, err := localstack.FindBinary("influxd"); err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	chromium := "/usr/bin/chromium"
	if p := os.Getenv("VAGT_CHROMIUM"); p != "" {
		chromium = p
	}
	if _, err := exec.LookPath(chromium); err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatal(err)
		}
		t.Skipf("chromium: %v", err)
	}
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &syncWriter{b: &strings.Builder{}}
	go func() {
		done <- demo.Run(ctx, demo.Config{Dir: t.TempDir(), Homes: 2, Listen: listen, BrokerListen: freeAddr(t), IngestListen: freeAddr(t),
			Tick: time.Second, FirstAlarm: time.Second, AlarmEvery: 8 * time.Second, EscalateAfter: 10 * time.Second}, nil, out)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo.Run: %v", err)
		}
		if t.Failed() {
			t.Logf("the demo printed:\n%s", out)
		}
	})
	p := &demoProcess{api: listen, out: out, tokens: map[string]string{}}
	waitFor(t, 90*time.Second, "the demo's tokens", func() bool {
		for _, m := range tokenLineMulti.FindAllStringSubmatch(out.String(), -1) {
			p.tokens[m[1]] = m[2]
		}
		return p.tokens["staff"] != "" && p.tokens["backup"] != ""
	})

	staff := phoneWindow(t, chromium)
	staff.do("open the console", chromedp.Navigate("http://"+listen+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
	staff.do("sign in with the staff token",
		chromedp.SendKeys("#token", p.token("staff"), chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#console", chromedp.ByID))
	staff.do("an alarm of the village in the list", chromedp.WaitVisible(villageCard, chromedp.ByQuery))
	var id int64
	var text string
	// The card names a citizen that a printed alarm line names. The list redraws its cards
	// (CI once read a card's text as "" between two draws): read it again until it is there.
	named := false
	for try := 0; try < 40 && !named; try++ {
		if try > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		staff.do("the alarm's card", chromedp.Evaluate(`Number(document.querySelector('`+villageCard+`').dataset.id)`, &id),
			chromedp.Evaluate(`(document.querySelector('`+villageCard+`') || {}).innerText || ""`, &text))
		for _, m := range regexp.MustCompile(`(?m) · (\S+ \S+) → http`).FindAllStringSubmatch(out.String(), -1) {
			named = named || strings.Contains(text, m[1])
		}
	}
	if !named {
		t.Errorf("the card %q names no citizen of a printed alarm line", text)
	}
	// Tap targets fit the phone's width: the card's buttons are inside the 360 px window.
	var right float64
	staff.do("the card's buttons", chromedp.Evaluate(`Math.max(...[...document.querySelectorAll('li.alert[data-id="`+fmt.Sprint(id)+`"] button')].map(b => b.getBoundingClientRect().right))`, &right))
	if right > 360 {
		t.Errorf("a button of the card ends at %.0f px, outside the 360 px window", right)
	}
	card := fmt.Sprintf(`li.alert[data-id="%d"]`, id)
	// The live list redraws a card when its alert changes (an acknowledgement, a repeat
	// press), so each tap finds its button afresh rather than holding a node.
	staff.do("acknowledge and resolve by taps",
		tap(card+` button[data-action=ack]`),
		chromedp.Poll(`(c => c && c.querySelector('button[data-action=ack]') === null)(document.querySelector('`+card+`'))`, nil,
			chromedp.WithPollingTimeout(30*time.Second)),
		tap(card+` button[data-action=resolve]`),
		chromedp.WaitVisible("#resolve", chromedp.ByID),
		chromedp.SetValue("#outcome", "visited_all_well", chromedp.ByID),
		chromedp.Click(`#resolve-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(card, chromedp.ByQuery))
	var a demoAlert
	waitFor(t, 30*time.Second, "the alert resolved by the staff", func() bool {
		a = alertOf(t, p, id, p.token("staff"))
		return a.State == "resolved"
	})
	by := map[string]string{}
	for _, e := range a.Timeline {
		by[e.Step] = e.By
	}
	if by["acknowledged"] != "demo-staff" || by["resolved"] != "demo-staff" {
		t.Errorf("alert %d's timeline: %+v, want acknowledged and resolved by demo-staff", id, a.Timeline)
	}

	backup := phoneWindow(t, chromium)
	backup.do("open the console", chromedp.Navigate("http://"+listen+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
	backup.do("sign in with the backup token",
		chromedp.SendKeys("#token", p.token("backup"), chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#console", chromedp.ByID))
	backup.do("an unanswered alarm reaches the backup", chromedp.WaitVisible(villageCard, chromedp.ByQuery))
	var bid int64
	backup.do("the backup's alarm", chromedp.Evaluate(`Number(document.querySelector('`+villageCard+`').dataset.id)`, &bid))
	if got := alertOf(t, p, bid, p.token("backup")); got.EscalationLevel < 1 {
		t.Errorf("the backup's console shows alert %d before it escalated: %+v", bid, got)
	}

	resp, err := http.Get("http://" + listen + "/app")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Logf("the care app: GET /app %s; skipped in this build", resp.Status)
	}
}

func alertOf(t *testing.T, p *demoProcess, id int64, token string) demoAlert {
	t.Helper()
	var a demoAlert
	if err := json.Unmarshal([]byte(p.get(t, fmt.Sprintf("/api/v1/alerts/%d", id), token)), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// phone is a headless Chromium in a phone-sized window.
type phone struct {
	t   *testing.T
	ctx context.Context
}

func phoneWindow(t *testing.T, chromium string) *phone {
	t.Helper()
	profile, err := os.MkdirTemp("", "vagt-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.UserDataDir(profile), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(360, 640))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
		os.RemoveAll(profile)
	})
	// The first Run starts the browser; it must not have a deadline of its own.
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(360, 640, chromedp.EmulateMobile)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &phone{t: t, ctx: ctx}
}

func (b *phone) do(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// tap clicks the element the selector names as soon as it is there, looked up at the moment
// of the click.
func tap(sel string) chromedp.Action {
	return chromedp.Poll(`(e => e ? (e.click(), true) : false)(document.querySelector('`+sel+`'))`, nil,
		chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}
