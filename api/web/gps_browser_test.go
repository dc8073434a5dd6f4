package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleGPS drives the console in headless Chromium: a tracker registered to Karen's
// home with a 300 m safe zone sends OsmAnd positions (as Traccar Client does) walking
// out of the zone; the left_safe_zone card appears and its detail says where she was last
// seen — time, coordinates, accuracy, her address — with an SVG map of the zone and the
// track drawn in the page (no tile server).
func TestConsoleGPS(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	var created struct{ Key string }
	if code := st.call(t, "anna", "POST", "/api/v1/homes/home-0042/trackers", `{"id":"gps.karen-01"}`, &created); code != http.StatusCreated {
		t.Fatalf("tracker: %d", code)
	}
	if code := st.call(t, "anna", "PUT", "/api/v1/homes/home-0042/safezones", `{"zones":[{"name":"Hjem","center":[55.7700,9.7000],"radius_m":300}]}`, nil); code != http.StatusOK {
		t.Fatalf("zone: %d", code)
	}
	b.do("open the console", chromedp.Navigate(st.proxy.URL+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.signIn(st.tokens["anna"])
	b.do("the empty list", chromedp.WaitVisible("#empty", chromedp.ByID))

	now := st.clock.Now()
	for i, metres := range []float64{-150, 0, 120, 260, 420} {
		v := url.Values{"id": {"gps.karen-01"}, "timestamp": {fmt.Sprint(now.Add(time.Duration(i-5) * time.Minute).Unix())},
			"lat": {fmt.Sprintf("%.6f", 55.7700+(300+metres)/111195)}, "lon": {fmt.Sprintf("%.6f", 9.7000+float64(i)*0.0004)}, "accuracy": {"12.0"}, "batt": {"64.0"}}
		resp, err := http.Post(st.base+"/gps/osmand/"+created.Key+"?"+v.Encode(), "", nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("position %d: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
	b.do("the left-zone card", chromedp.WaitVisible(card("left_safe_zone"), chromedp.ByQuery))
	b.do("open its detail",
		clickInList(card("left_safe_zone")+` button[data-action=detail]`),
		chromedp.WaitVisible("#detail .gps-map .gps-last", chromedp.ByQuery))
	b.waitJS("the map has the zone and the track", `document.querySelectorAll("#detail .gps-map .gps-zone").length === 1 &&
		document.querySelector("#detail .gps-map .gps-track").getAttribute("points").split(" ").length === 5`)
	s := b.text("#detail .gps-last-seen")
	for _, want := range []string{"Sidst set", "55.7", "± 12 m", "Søndergade", "Hjem"} {
		if !strings.Contains(b.text("#detail .gps")+s, want) {
			t.Errorf("the last-seen section lacks %q: %q", want, b.text("#detail .gps"))
		}
	}
	b.waitJS("scroll to the map", `(document.querySelector("#detail .gps-map").scrollIntoView({block: "center"}), true)`)
	b.screenshotViewport("detail-gps")
	b.checkErrors()
}

// TestCarePlanSafeZones: on the care plan page staff set a home's safe zones; a polygon
// whose edges cross is refused with the reason and changes nothing; a circle is saved and
// drawn.
func TestCarePlanSafeZones(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	b.do("open the care-plan page", chromedp.Navigate(st.proxy.URL+"/careplan?home=home-0042"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.do("sign in",
		chromedp.SetValue("#token", st.tokens["anna"], chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#plan-body", chromedp.ByID),
		chromedp.WaitVisible("#safezones", chromedp.ByID))
	b.waitJS("no zones yet", `document.querySelector(".gps-zones .gps-preview").textContent.includes("Ingen sikre zoner")`)
	bowTie := `[{"name":"x","points":[[55.77,9.70],[55.77,9.72],[55.78,9.70],[55.78,9.73]]}]`
	b.do("a bow tie", chromedp.SetValue("#safezones", bowTie, chromedp.ByID),
		chromedp.Click(`.safezones-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(".safezones-form .error", chromedp.ByQuery))
	if s := b.text(".safezones-form .error"); !strings.Contains(s, "cross") {
		t.Errorf("the refusal says %q", s)
	}
	var zones struct{ Zones []any }
	if st.call(t, "anna", "GET", "/api/v1/homes/home-0042/safezones", "", &zones); len(zones.Zones) != 0 {
		t.Errorf("a refused zone was stored: %+v", zones)
	}
	b.do("a circle", chromedp.SetValue("#safezones", `[{"name":"Hjem","center":[55.77,9.70],"radius_m":300,"quiet_hours":[{"from":"22:00","to":"07:00"}]}]`, chromedp.ByID),
		chromedp.Click(`.safezones-form button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(".gps-zones svg.gps-map circle.gps-zone", chromedp.ByQuery))
	if st.call(t, "anna", "GET", "/api/v1/homes/home-0042/safezones", "", &zones); len(zones.Zones) != 1 {
		t.Errorf("zones after saving: %+v", zones)
	}
	b.waitJS("scroll to the zones", `(document.querySelector(".gps-zones").scrollIntoView({block: "center"}), true)`)
	b.screenshotViewport("careplan-safezones")
	b.checkErrors()
}
