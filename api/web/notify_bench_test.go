package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestNotifyLatency is item 6 of issue 21, measured (make bench-notify; skipped unless
// VAGT_BENCH_NOTIFY=1): an alarm published on the broker → the care app's notification
// shown by the service worker, with the app in a background tab of headless Chromium.
// The time shown is taken in the page when showNotification resolves, the time published
// in the test just before the publish (one machine, one clock). It runs idle, then with
// ingest (in this process, writing to a real InfluxDB) carrying the load generator's
// readings on the same Mosquitto, and prints p50/p99 of each and the readings/s reached.
func TestNotifyLatency(t *testing.T) {
	if os.Getenv("VAGT_BENCH_NOTIFY") != "1" {
		t.Skip("a benchmark: make bench-notify (VAGT_BENCH_NOTIFY=1)")
	}
	n := 40
	if v, err := fmt.Sscan(os.Getenv("VAGT_BENCH_ALARMS"), &n); v != 1 || err != nil {
		n = 40
	}
	b := newBrowser(t)
	st := startStack(t)
	b.do("a phone, notifications allowed",
		chromedp.EmulateViewport(360, 640, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		cdpbrowser.SetPermission(&cdpbrowser.PermissionDescriptor{Name: "notifications"}, cdpbrowser.PermissionSettingGranted).WithOrigin(st.proxy.URL))
	b.do("open the app", chromedp.Navigate(st.proxy.URL+"/app"), chromedp.WaitVisible("#signin", chromedp.ByID),
		chromedp.SendKeys("#token", st.tokens["bo"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#app", chromedp.ByID))
	b.waitJS("the service worker controls the app", `navigator.serviceWorker.controller !== null`)
	// Record when each notification was shown, in the page's clock (ms since the epoch).
	b.do("hook showNotification", chromedp.Evaluate(`window.__shown = {};
		const show = ServiceWorkerRegistration.prototype.showNotification;
		ServiceWorkerRegistration.prototype.showNotification = function (title, opts) {
			return show.call(this, title, opts).then(() => { window.__shown[opts.tag] = Date.now(); });
		}; true`, nil))
	other, cancelOther := chromedp.NewContext(b.ctx)
	defer cancelOther()
	b.runIn(other, "another tab in front", chromedp.Navigate("about:blank"), chromedp.ActionFunc(func(ctx context.Context) error {
		return target.ActivateTarget(chromedp.FromContext(ctx).Target.TargetID).Do(ctx)
	}))

	seq := uint64(0)
	measure := func(phase string) []time.Duration {
		var got []time.Duration
		for i := 0; i < n; i++ {
			seq++
			at := time.Now()
			st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: seq, Time: st.clock.Now(), Device: "bu-17:btn", Type: vagt.AlarmPanic})
			var id int64
			waitFor(t, "the alert", func() bool {
				var list struct{ Alerts []struct{ ID int64 } }
				st.call(t, "bo", "GET", "/api/v1/alerts?state=open", "", &list)
				if len(list.Alerts) > 0 {
					id = list.Alerts[0].ID
				}
				return id != 0
			})
			var shown float64
			b.waitJS("the notification", fmt.Sprintf(`window.__shown["vagt-alert-%d"] > 0`, id))
			b.do("when shown", chromedp.Evaluate(fmt.Sprintf(`window.__shown["vagt-alert-%d"]`, id), &shown))
			got = append(got, time.UnixMilli(int64(shown)).Sub(at))
			if code := st.call(t, "bo", "POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", id), `{"outcome":"false_alarm","seen":{"count":1}}`, nil); code != http.StatusOK {
				t.Fatalf("resolve: %d", code)
			}
			b.waitJS("the list empty again", `document.querySelectorAll("li.item").length === 0`)
		}
		slices.Sort(got)
		p := func(q float64) time.Duration { return got[min(len(got)-1, int(q*float64(len(got))))] }
		fmt.Printf("bench-notify %-6s alarms %d  p50 %v  p99 %v  max %v\n", phase, n, p(0.50).Round(100*time.Microsecond),
			p(0.99).Round(100*time.Microsecond), got[len(got)-1].Round(100*time.Microsecond))
		return got
	}
	measure("idle")

	// Loaded: ingest writes to InfluxDB what the load generator publishes on the same
	// broker, 1,000 homes × 25 sensors × 2 readings a second = 50,000 readings/s offered.
	db := stacktest.InfluxDB(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ingestDone := make(chan error, 1)
	go func() {
		ingestDone <- ingest.Run(ctx, ingest.Config{Broker: st.broker.URL(), ClientID: "bench-notify-ingest", Group: "bench-notify",
			InfluxURL: db.URL(), InfluxBucket: db.Bucket(), InfluxToken: db.Token, InfluxRaw: true},
			ingest.Deps{Logger: slog.New(slog.DiscardHandler), Listener: ln})
	}()
	loadFor := 10*time.Second + time.Duration(n)*time.Second
	loadDone := make(chan load.Report, 1)
	start := time.Now()
	go func() {
		r, err := load.Run(ctx, load.Config{Broker: st.broker.URL(), Homes: 1000, Sensors: 25, Samples: 2, Interval: time.Second,
			Duration: loadFor, Conns: 4, Window: 512, Prefix: "bench"})
		if err != nil && ctx.Err() == nil {
			t.Errorf("load: %v", err)
		}
		loadDone <- r
	}()
	time.Sleep(3 * time.Second) // let the load reach its rate before measuring
	measure("loaded")
	r := <-loadDone // the load runs its full duration: readings/s over all of it
	elapsed := time.Since(start)
	fmt.Printf("bench-notify loaded: the load generator had %d readings acknowledged by the broker in %v = %.0f readings/s\n",
		r.Readings, elapsed.Round(time.Second), float64(r.Readings)/elapsed.Seconds())
	// What ingest stored: counted in InfluxDB once it stops growing (or all are there).
	var stored, was uint64
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		body, err := db.Query(t.Context(), `SELECT count(value) FROM "`+db.Database+`"."autogen"."reading"`)
		if err != nil {
			t.Fatal(err)
		}
		if m := countRE.FindSubmatch(body); m != nil {
			stored, _ = strconv.ParseUint(string(m[1]), 10, 64)
		}
		if stored >= r.Readings || (stored > 0 && stored == was) {
			break
		}
		was = stored
	}
	fmt.Printf("bench-notify loaded: ingest stored %d of them in InfluxDB, %.0f readings/s over the load's %v\n",
		stored, float64(stored)/elapsed.Seconds(), elapsed.Round(time.Second))
	cancel()
	if err := <-ingestDone; err != nil {
		t.Logf("ingest: %v", err)
	}
}

// countRE reads the number out of InfluxDB 1.8's answer to a count query.
var countRE = regexp.MustCompile(`"values":\[\["[^"]*",(\d+)\]\]`)
