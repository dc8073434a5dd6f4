package web_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/httpapi"
)

// startPages serves the pages and assets alone (no store behind them) on loopback.
func startPages(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Feed: alerts.NewFeed(nil, alerts.FeedOptions{}), Gatherer: prometheus.NewRegistry()}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// withScripts makes sure the page has the named assets loaded (a page that does not load
// them itself gets them added, as the CSP allows scripts from its own origin).
func (b *browser) withScripts(names ...string) {
	b.t.Helper()
	for _, n := range names {
		global := map[string]string{"format.js": "vagtFormat", "i18n.js": "vagtI18n"}[n]
		var ok bool
		b.do("add "+n, chromedp.Evaluate(`typeof `+global+` !== "undefined" || (document.head.append(Object.assign(document.createElement("script"), {src: "/assets/`+n+`"})), false)`, &ok))
		b.waitJS(n+" loaded", `typeof `+global+` !== "undefined"`)
	}
}

// chooseLanguage picks a language with the switch in the page's top bar, as a user does.
func (b *browser) chooseLanguage(lang string) {
	b.t.Helper()
	b.do("choose "+lang, chromedp.WaitVisible(`.top [data-lang-switch] select`, chromedp.ByQuery),
		chromedp.Evaluate(`(s => { s.value = "`+lang+`"; s.dispatchEvent(new Event("change")); })(document.querySelector(".top [data-lang-switch] select"))`, nil))
}

// chooseLanguageReload picks a language on a page that reloads for it (one that registers
// no redraw), and waits for the new page.
func (b *browser) chooseLanguageReload(lang string) {
	b.t.Helper()
	b.do("mark the page", chromedp.Evaluate(`window.__beforeSwitch = true`, nil))
	b.chooseLanguage(lang)
	deadline := time.Now().Add(patience)
	for {
		var fresh bool
		ctx, cancel := context.WithTimeout(b.ctx, patience)
		err := chromedp.Run(ctx, chromedp.Evaluate(`window.__beforeSwitch === undefined && document.readyState === "complete"`, &fresh))
		cancel()
		if err == nil && fresh {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page did not reload for %s: %v", lang, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFormat checks the formatter in Chromium against the figures the pages show, in both
// languages, with a browser whose own language is English and whose zone is UTC (the
// times must still be Copenhagen's).
func TestFormat(t *testing.T) {
	b := newBrowser(t)
	base := startPages(t)
	b.do("open a page", chromedp.Navigate(base+"/careplan"))
	b.withScripts("format.js")

	cases := []struct{ expr, da, en string }{
		{`vagtFormat.number(27162, 0, L)`, "27.162", "27,162"},
		{`vagtFormat.number(2000, 0, L)`, "2.000", "2,000"}, // never "2,000" in Danish: that reads as two
		{`vagtFormat.number(56.7, 1, L)`, "56,7", "56.7"},
		{`vagtFormat.number(-107398, 0, L)`, "\u2212107.398", "\u2212107,398"},
		{`vagtFormat.decimal(56.66, 1, L)`, "56,7", "56.7"},
		{`vagtFormat.decimal(6, 1, L)`, "6", "6"},
		{`vagtFormat.number(null, 0, L)`, "—", "—"},
		{`vagtFormat.kroner(27162, {}, L)`, "27.162\u00a0kr.", "DKK\u00a027,162"},
		{`vagtFormat.kroner(-107398, {}, L)`, "\u2212107.398\u00a0kr.", "\u2212DKK\u00a0107,398"},
		{`vagtFormat.kroner(48323, {signed: true}, L)`, "+48.323\u00a0kr.", "DKK\u00a0+48,323"},
		{`vagtFormat.percent(0.567, undefined, L)`, "56,7\u00a0%", "56.7%"},
		{`vagtFormat.percent(0.5, undefined, L)`, "50\u00a0%", "50%"},
		{`vagtFormat.percent(0.5, 1, L)`, "50,0\u00a0%", "50.0%"},
		{`vagtFormat.percent(undefined, 1, L)`, "—", "—"},
		{`vagtFormat.duration(6 * 3600, L)`, "6 timer", "6 hours"},
		{`vagtFormat.duration(3600, L)`, "1 time", "1 hour"},
		{`vagtFormat.duration(3900, L)`, "1 t 5 min", "1 h 5 min"},
		{`vagtFormat.duration(7205, L)`, "2 timer", "2 hours"}, // not "2 t 0 min"
		{`vagtFormat.duration(45 * 60, L)`, "45 min", "45 min"},
		{`vagtFormat.duration(125, L)`, "2 min 5 s", "2 min 5 s"},
		{`vagtFormat.duration(45, L)`, "45 s", "45 s"},
		{`vagtFormat.duration(3 * 86400 + 7200, L)`, "3 døgn", "3 days"},
		{`vagtFormat.duration(vagtFormat.parseDuration("6h0m0s"), L)`, "6 timer", "6 hours"},
		{`vagtFormat.goDuration(vagtFormat.parseDuration("1h5m0s"))`, "1h5m", "1h5m"},
		// What staff write in the care-plan form, in either language.
		{`vagtFormat.readDuration("6 timer")`, "21600", "21600"},
		{`vagtFormat.readDuration("1 t 30 min")`, "5400", "5400"},
		{`vagtFormat.readDuration("1,5 timer")`, "5400", "5400"},
		{`vagtFormat.readDuration("20 min.")`, "1200", "1200"},
		{`vagtFormat.readDuration("90 minutes")`, "5400", "5400"},
		{`vagtFormat.readDuration("6h0m0s")`, "21600", "21600"},
		{`vagtFormat.readDuration("6 timer og lidt")`, "null", "null"},
		{`vagtFormat.readDuration("seks timer")`, "null", "null"},
		{`vagtFormat.readDuration("6 timer x")`, "null", "null"},
		{`vagtFormat.readWindow("22:00–07:00")`, "22:00-07:00", "22:00-07:00"},
		{`vagtFormat.readWindow("22.00-7.00")`, "22:00-07:00", "22:00-07:00"},
		{`vagtFormat.readWindow("23:00")`, "null", "null"},
		{`vagtFormat.readWindow("25:00-07:00")`, "null", "null"},
		// 14:05 in Copenhagen in winter is 13:05 UTC; in summer 12:05 UTC.
		{`vagtFormat.dateTime("2026-12-02T13:05:09Z", {}, L)`, "2. dec. 2026 14:05", "2 Dec 2026 14:05"},
		{`vagtFormat.dateTime("2026-07-02T12:05:09Z", {seconds: true}, L)`, "2. jul. 2026 14:05:09", "2 Jul 2026 14:05:09"},
		{`vagtFormat.date("2026-05-31T22:30:00Z", L)`, "1. jun. 2026", "1 Jun 2026"},
		{`vagtFormat.time("2026-12-02T23:30:00Z", {}, L)`, "00:30", "00:30"},
		{`vagtFormat.month("2025-12-31T23:00:00Z", {shortYear: true}, L)`, "jan. 26", "Jan 26"}, // January in Copenhagen
		{`vagtFormat.dayMonth("2026-12-02T13:05:09Z", L)`, "2. dec.", "2 Dec"},
		{`vagtFormat.compact(35000, L)`, "35\u00a0t.", "35k"},
		{`vagtFormat.compact(250400, L)`, "250\u00a0t.", "250k"},
		{`vagtFormat.compact(-1200000, L)`, "\u22121,2\u00a0mio.", "\u22121.2M"},
		{`vagtFormat.compact(9500, L)`, "9.500", "9,500"},
		{`vagtFormat.timeRange("22:00-07:00")`, "22:00–07:00", "22:00–07:00"},
		{`vagtFormat.timeRange("7:00", "9:30")`, "07:00–09:30", "07:00–09:30"},
		{`vagtFormat.ago(new Date("2026-12-02T13:00:00Z"), new Date("2026-12-02T13:03:00Z"), L)`, "3 min siden", "3 min ago"},
	}
	for _, lang := range []string{"da", "en"} {
		for _, c := range cases {
			want := c.da
			if lang == "en" {
				want = c.en
			}
			var got string
			b.do(c.expr, chromedp.Evaluate(`(() => { const L = "`+lang+`"; return String(`+c.expr+`); })()`, &got))
			if got != want {
				t.Errorf("%s in %s: %q, want %q", c.expr, lang, got, want)
			}
		}
	}

	// A hidden figure: "—", its reason on hover, to screen readers and on a tap.
	var hidden struct {
		Text, Title, Label, Shown string
	}
	b.do("a hidden figure", chromedp.Evaluate(`(() => {
		const h = vagtFormat.hidden("Færre end 5 borgere", "da");
		document.body.append(h);
		h.click();
		return {Text: h.textContent, Title: h.title, Label: h.getAttribute("aria-label"), Shown: h.nextElementSibling.hidden ? "" : h.nextElementSibling.textContent};
	})()`, &hidden))
	if hidden.Text != "—" || hidden.Title != "Færre end 5 borgere" || hidden.Label != "Skjult: Færre end 5 borgere" || hidden.Shown != "Færre end 5 borgere" {
		t.Errorf("hidden figure: %+v", hidden)
	}
	b.checkErrors()
}

// TestLanguage: the pages are Danish in an English-speaking browser until English is chosen
// with the switch; the choice is kept; t fills placeholders and plural forms; marked
// elements and <html lang> follow.
func TestLanguage(t *testing.T) {
	b := newBrowser(t)
	base := startPages(t)
	b.do("open a page", chromedp.Navigate(base+"/careplan"))
	b.withScripts("format.js", "i18n.js")

	type state struct {
		Lang, HTML, Marked, Attr, Plural1, Plural3, Vars, Missing string
	}
	read := func() state {
		t.Helper()
		var s state
		b.do("read the language", chromedp.Evaluate(`vagtI18n.ready.then(() => {
			let m = document.getElementById("i18n-probe");
			if (!m) {
				m = Object.assign(document.createElement("p"), {id: "i18n-probe"});
				m.dataset.i18n = "common.signIn.title";
				m.dataset.i18nAttr = "title:common.language; aria-label:common.signIn.token";
				document.body.append(m);
				vagtI18n.apply(document);
			}
			return {Lang: vagtI18n.lang(), HTML: document.documentElement.lang, Marked: m.textContent,
				Attr: m.title + "|" + m.getAttribute("aria-label"),
				Plural1: vagtI18n.t("common.devices", {count: 1}), Plural3: vagtI18n.t("common.devices", {count: 3000}),
				Vars: vagtI18n.t("common.signIn.failed", {message: "x"}), Missing: vagtI18n.t("common.no-such-text")};
		})`, &s, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		return s
	}
	var navLang string
	b.do("the browser's language", chromedp.Evaluate(`navigator.language`, &navLang))
	if navLang == "da" || navLang == "da-DK" {
		t.Fatalf("the browser's language is %q: this test needs a non-Danish browser", navLang)
	}
	want := state{"da", "da", "Log ind", "Sprog|Adgangsnøgle", "1 enhed", "3.000 enheder", "Log ind mislykkedes: x", "common.no-such-text"}
	if s := read(); s != want {
		t.Errorf("by default:\n got %+v\nwant %+v", s, want)
	}

	// The switch: a labelled select; choosing English redraws a page that listens.
	var switched bool
	b.do("mount the switch and choose English", chromedp.Evaluate(`(() => {
		window.__redrawn = "";
		vagtI18n.onChange((l) => { window.__redrawn = l; });
		const sel = vagtI18n.mountSwitch(document.body);
		sel.value = "en";
		sel.dispatchEvent(new Event("change"));
		return sel.labels.length === 1 && sel.labels[0].textContent === "Sprog";
	})()`, &switched))
	if !switched {
		t.Error("the switch has no label")
	}
	b.waitJS("the redraw in English", `window.__redrawn === "en"`)
	want = state{"en", "en", "Sign in", "Language|Access token", "1 device", "3,000 devices", "Sign-in failed: x", "common.no-such-text"}
	if s := read(); s != want {
		t.Errorf("after choosing English:\n got %+v\nwant %+v", s, want)
	}
	var stored string
	b.do("the stored choice", chromedp.Evaluate(`localStorage.getItem("vagt.lang")`, &stored))
	if stored != "en" {
		t.Errorf("stored choice %q", stored)
	}
	// After a reload the choice holds.
	b.do("reload", chromedp.Navigate(base+"/careplan"))
	b.withScripts("format.js", "i18n.js")
	if s := read(); s.Lang != "en" || s.HTML != "en" || s.Marked != "Sign in" {
		t.Errorf("after a reload: %+v", s)
	}
	b.checkErrors()
}
