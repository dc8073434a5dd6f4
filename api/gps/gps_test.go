package gps

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

var now = time.Date(2024, 12, 2, 0, 5, 0, 0, time.UTC) // 01:05 Danish time

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseOwnTracks reads the payloads in the shape the apps send (owntracks.org/booklet/
// tech/json): a location with every field the Android app adds, a transition on the event
// topic, a manual publish (the panic button).
func TestParseOwnTracks(t *testing.T) {
	p, err := ParseOwnTracks("owntracks/gps.karen-01/phone", read(t, "owntracks-location-android.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Position{Tracker: "gps.karen-01", At: time.Unix(1733097600, 0).UTC(), Lat: 55.676098, Lon: 12.568337, Acc: 12, Battery: 87, Source: "owntracks"}
	if p != want {
		t.Errorf("location:\n got %+v\nwant %+v", p, want)
	}
	p, err = ParseOwnTracks("owntracks/gps.karen-01/phone/event", read(t, "owntracks-transition.json"))
	if err != nil || p.Lat != 55.6801 || p.Acc != 15 || p.Battery != -1 || p.Panic {
		t.Errorf("transition: %+v %v", p, err)
	}
	p, err = ParseOwnTracks("owntracks/gps.karen-01/phone", read(t, "owntracks-manual.json"))
	if err != nil || !p.Panic {
		t.Errorf("manual publish is the panic button: %+v %v", p, err)
	}
}

func TestParseOwnTracksRefuses(t *testing.T) {
	loc := string(read(t, "owntracks-location-android.json"))
	for _, c := range []struct {
		name, topic, payload, reason string
	}{
		{"lwt", "owntracks/gps.karen-01/phone", `{"_type":"lwt","tst":1733097600}`, ReasonUnsupported},
		{"card", "owntracks/gps.karen-01/phone", `{"_type":"card","name":"Karen"}`, ReasonUnsupported},
		{"not json", "owntracks/gps.karen-01/phone", `lat=55`, ReasonMalformed},
		{"two values", "owntracks/gps.karen-01/phone", `{"_type":"location"} {}`, ReasonMalformed},
		{"no tst", "owntracks/gps.karen-01/phone", `{"_type":"location","lat":55.6,"lon":12.5}`, ReasonMalformed},
		{"lat as string", "owntracks/gps.karen-01/phone", `{"_type":"location","lat":"55.6","lon":12.5,"tst":1733097600}`, ReasonMalformed},
		{"other topic", "vagt/v1/gw/gw-1/alarm", loc, ReasonUnsupported},
		{"a gateway's user", "owntracks/gw-0042/phone", loc, ReasonUnknown},
		{"payload names another tracker", "owntracks/gps.mallory/phone", loc, ReasonImpersonated},
		{"location on event topic", "owntracks/gps.karen-01/phone/event", loc, ReasonMalformed},
		{"transition without event", "owntracks/gps.karen-01/phone/event", `{"_type":"transition","lat":55.6,"lon":12.5,"tst":1}`, ReasonMalformed},
		{"too large", "owntracks/gps.karen-01/phone", `{"_type":"location","x":"` + strings.Repeat("a", maxOwnTracks) + `"}`, ReasonMalformed},
	} {
		_, err := ParseOwnTracks(c.topic, []byte(c.payload))
		if got := ReasonOf(err); got != c.reason || !errors.Is(err, ErrRejected) {
			t.Errorf("%s: reason %q (%v), want %q", c.name, got, err, c.reason)
		}
	}
}

func osmand(t *testing.T, method, target, contentType, body string) (Position, error) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return ParseOsmAnd(httptest.NewRecorder(), r)
}

// TestParseOsmAnd reads the three shapes Traccar Client sends (traccar.org/osmand): query
// parameters on a POST with an empty body (Traccar Client before 9), a form body, and the
// JSON of Traccar Client 9; alarm=sos is the panic button.
func TestParseOsmAnd(t *testing.T) {
	q := "id=gps.karen-02&timestamp=1733097600&lat=55.676098&lon=12.568337&speed=0.0&bearing=0.0&altitude=40.0&accuracy=11.0&batt=42.0"
	want := Position{Tracker: "gps.karen-02", At: time.Unix(1733097600, 0).UTC(), Lat: 55.676098, Lon: 12.568337, Acc: 11, Battery: 42, Source: "osmand"}
	for _, c := range []struct{ name, method, target, ct, body string }{
		{"query", http.MethodPost, "/gps/osmand/k?" + q, "", ""},
		{"GET", http.MethodGet, "/gps/osmand/k?" + q, "", ""},
		{"form", http.MethodPost, "/gps/osmand/k", "application/x-www-form-urlencoded", q},
	} {
		p, err := osmand(t, c.method, c.target, c.ct, c.body)
		if err != nil || p != want {
			t.Errorf("%s:\n got %+v %v\nwant %+v", c.name, p, err, want)
		}
	}
	p, err := osmand(t, http.MethodPost, "/gps/osmand/k", "application/json", string(read(t, "osmand-traccar-client-9.json")))
	want.At = time.Date(2024, 12, 2, 0, 2, 0, 0, time.UTC)
	if err != nil || p != want {
		t.Errorf("json:\n got %+v %v\nwant %+v", p, err, want)
	}
	p, err = osmand(t, http.MethodGet, "/gps/osmand/k?deviceid=gps.karen-02&timestamp=1733097600000&lat=55.6&lon=12.5&alarm=sos", "", "")
	if err != nil || !p.Panic || p.At.Unix() != 1733097600 || p.Battery != -1 {
		t.Errorf("alarm=sos with milliseconds: %+v %v", p, err)
	}
	for _, c := range []struct{ name, query, reason string }{
		{"no id", "lat=55.6&lon=12.5&timestamp=1733097600", ReasonMalformed},
		{"no lat", "id=gps.karen-02&lon=12.5&timestamp=1733097600", ReasonMalformed},
		{"lat not a number", "id=gps.karen-02&lat=north&lon=12.5&timestamp=1733097600", ReasonMalformed},
		{"no timestamp", "id=gps.karen-02&lat=55.6&lon=12.5", ReasonMalformed},
		{"bad timestamp", "id=gps.karen-02&lat=55.6&lon=12.5&timestamp=yesterday", ReasonMalformed},
		{"invalid fix", "id=gps.karen-02&lat=55.6&lon=12.5&timestamp=1733097600&valid=false", ReasonRange},
	} {
		_, err := osmand(t, http.MethodGet, "/gps/osmand/k?"+c.query, "", "")
		if got := ReasonOf(err); got != c.reason {
			t.Errorf("%s: %q (%v), want %q", c.name, got, err, c.reason)
		}
	}
}

// TestCheck: out of range, from the future, too old, accuracy worse than the threshold.
func TestCheck(t *testing.T) {
	l := Limits{}.WithDefaults()
	ok := Position{Tracker: "gps.karen-01", At: now.Add(-time.Minute), Lat: 55.6, Lon: 12.5, Acc: 20, Battery: 50}
	if err := ok.Check(now, l); err != nil {
		t.Fatal(err)
	}
	nan := 0.0
	nan = nan / nan
	for _, c := range []struct {
		name   string
		change func(*Position)
		reason string
	}{
		{"lat 91", func(p *Position) { p.Lat = 91 }, ReasonRange},
		{"lon -181", func(p *Position) { p.Lon = -181 }, ReasonRange},
		{"NaN", func(p *Position) { p.Lat = nan }, ReasonRange},
		{"null island", func(p *Position) { p.Lat, p.Lon = 0, 0 }, ReasonRange},
		{"negative accuracy", func(p *Position) { p.Acc = -1 }, ReasonRange},
		{"battery 101", func(p *Position) { p.Battery = 101 }, ReasonRange},
		{"from the future", func(p *Position) { p.At = now.Add(10 * time.Minute) }, ReasonFuture},
		{"older than retention", func(p *Position) { p.At = now.Add(-8 * 24 * time.Hour) }, ReasonTooOld},
		{"inaccurate", func(p *Position) { p.Acc = 500 }, ReasonInaccurate},
	} {
		p := ok
		c.change(&p)
		if got := ReasonOf(p.Check(now, l)); got != c.reason {
			t.Errorf("%s: %q, want %q", c.name, got, c.reason)
		}
	}
	p := ok
	p.At = now.Add(time.Minute) // a tracker's clock a little ahead is within the skew
	if err := p.Check(now, l); err != nil {
		t.Errorf("a minute ahead: %v", err)
	}
}

// home is a 300 m circle in central Copenhagen; park a polygon beside it.
var (
	home = Zone{Name: "Hjem", Center: &[2]float64{55.6761, 12.5683}, Radius: 300}
	park = Zone{Name: "Parken", Points: [][2]float64{{55.6800, 12.5800}, {55.6800, 12.5900}, {55.6850, 12.5900}, {55.6850, 12.5800}}}
)

// TestValidateZones refuses what is not a valid zone, a polygon that is not simple first.
func TestValidateZones(t *testing.T) {
	if err := ValidateZones([]Zone{home, park, {Name: "dag", Center: &[2]float64{55.7, 12.6}, Radius: 100, Quiet: []QuietHours{{"22:00", "07:00"}}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		z    Zone
	}{
		{"bow tie", Zone{Points: [][2]float64{{55.68, 12.58}, {55.685, 12.59}, {55.685, 12.58}, {55.681, 12.595}}}},
		{"figure eight", Zone{Points: [][2]float64{{55.68, 12.58}, {55.68, 12.60}, {55.69, 12.58}, {55.69, 12.61}}}},
		{"two points", Zone{Points: [][2]float64{{55.68, 12.58}, {55.685, 12.59}}}},
		{"on a line", Zone{Points: [][2]float64{{55.68, 12.58}, {55.681, 12.58}, {55.682, 12.58}}}},
		{"repeated point", Zone{Points: [][2]float64{{55.68, 12.58}, {55.68, 12.58}, {55.68, 12.58}}}},
		{"point out of range", Zone{Points: [][2]float64{{95, 12.58}, {55.685, 12.59}, {55.685, 12.58}}}},
		{"circle and polygon", Zone{Center: &[2]float64{55.7, 12.6}, Radius: 100, Points: park.Points}},
		{"nothing", Zone{Name: "x"}},
		{"radius 0", Zone{Center: &[2]float64{55.7, 12.6}}},
		{"quiet hours 25:00", Zone{Center: &[2]float64{55.7, 12.6}, Radius: 100, Quiet: []QuietHours{{"25:00", "07:00"}}}},
		{"quiet hours empty", Zone{Center: &[2]float64{55.7, 12.6}, Radius: 100, Quiet: []QuietHours{{"07:00", "07:00"}}}},
	} {
		if err := ValidateZones([]Zone{c.z}); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if err := ValidateZones(make([]Zone, MaxZones+1)); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("too many zones: %v", err)
	}
}

func TestOutside(t *testing.T) {
	// 0.0045° of latitude is ~500 m: 200 m outside the 300 m circle.
	if d := home.Outside(55.6761+0.0045, 12.5683); d < 190 || d > 210 {
		t.Errorf("circle: %g m, want ~200", d)
	}
	if d := home.Outside(55.6761, 12.5683); d > -299 {
		t.Errorf("centre: %g m, want -300", d)
	}
	if d := park.Outside(55.6825, 12.5850); d >= 0 {
		t.Errorf("inside the park: %g", d)
	}
	// 0.0009° of latitude is ~100 m north of the park's north edge.
	if d := park.Outside(55.6850+0.0009, 12.5850); d < 95 || d > 105 {
		t.Errorf("north of the park: %g m, want ~100", d)
	}
}

// TestDecideHysteresis: jitter around the edge raises nothing, a clear exit raises one
// left_safe_zone, staying out raises no more, coming back and leaving again raises again
// (the store folds it into the open alert); inaccurate-but-accepted fixes need to be out
// by their accuracy too; in quiet hours leaving raises nothing.
func TestDecideHysteresis(t *testing.T) {
	l := Limits{}.WithDefaults()
	st := &TrackerState{Tracker: "gps.karen-01", Home: "h-1", Zones: []Zone{home}}
	at := now
	fix := func(metresNorthOfEdge, acc float64) []Alarm {
		at = at.Add(time.Minute)
		return Decide(st, Position{Tracker: "gps.karen-01", At: at, Lat: 55.6761 + (300+metresNorthOfEdge)/111195, Lon: 12.5683, Acc: acc, Battery: -1}, l)
	}
	for _, m := range []float64{-20, 30, -10, 45, 20, -40} {
		if a := fix(m, 5); len(a) != 0 {
			t.Fatalf("jitter %g m: %+v", m, a)
		}
	}
	if a := fix(80, 40); len(a) != 0 { // out by 80, but the fix may be 40 m off: 40 < 50
		t.Fatalf("within accuracy and hysteresis: %+v", a)
	}
	a := fix(120, 10)
	if len(a) != 1 || a[0].Type != vagt.AlarmLeftSafeZone || !a[0].OnlyIfNoneOpen || a[0].Details["zone"] != "Hjem" || a[0].Details["outside_m"] != "120" {
		t.Fatalf("clear exit: %+v", a)
	}
	if a := fix(400, 10); len(a) != 0 || !st.Outside {
		t.Fatalf("still out: %+v", a)
	}
	if a := fix(30, 5); len(a) != 0 || !st.Outside {
		t.Fatalf("in the band: still out: %+v %v", a, st.Outside)
	}
	if a := fix(-5, 5); len(a) != 0 || st.Outside {
		t.Fatalf("back: %+v %v", a, st.Outside)
	}
	if a := fix(200, 5); len(a) != 1 {
		t.Fatalf("out again: %+v", a)
	}
	fix(-100, 5)
	st.Zones = []Zone{{Name: "Hjem", Center: home.Center, Radius: 300, Quiet: []QuietHours{{"00:00", "23:59"}}}}
	if a := fix(500, 5); len(a) != 0 || st.Outside {
		t.Fatalf("quiet hours: %+v", a)
	}
	st.Zones = nil
	if a := fix(5000, 5); len(a) != 0 {
		t.Fatalf("no zones: %+v", a)
	}
}

func TestDecideBatteryAndPanic(t *testing.T) {
	l := Limits{}.WithDefaults()
	st := &TrackerState{Tracker: "gps.karen-01"}
	p := Position{Tracker: "gps.karen-01", At: now, Lat: 55.6, Lon: 12.5, Battery: 40}
	if a := Decide(st, p, l); len(a) != 0 {
		t.Fatal(a)
	}
	p.Battery = 15
	if a := Decide(st, p, l); len(a) != 1 || a[0].Type != vagt.AlarmLowBattery || a[0].Details["battery"] != "15" {
		t.Fatalf("low: %+v", a)
	}
	p.Battery = 12
	if a := Decide(st, p, l); len(a) != 0 {
		t.Fatalf("still low: %+v", a)
	}
	p.Battery = 20 // not charged enough to re-arm
	Decide(st, p, l)
	p.Battery = 14
	if a := Decide(st, p, l); len(a) != 0 {
		t.Fatalf("low again without a charge: %+v", a)
	}
	p.Battery = 90
	Decide(st, p, l)
	p.Battery, p.Panic = 10, true
	a := Decide(st, p, l)
	if len(a) != 2 || a[0].Type != vagt.AlarmPanic || a[0].OnlyIfNoneOpen || a[1].Type != vagt.AlarmLowBattery {
		t.Fatalf("panic and low after a charge: %+v", a)
	}
}

func TestQuietHoursDanishTime(t *testing.T) {
	z := Zone{Quiet: []QuietHours{{"22:00", "07:00"}}}
	if !z.QuietAt(time.Date(2024, 12, 1, 23, 30, 0, 0, time.UTC)) { // 00:30 Danish
		t.Error("00:30 is quiet")
	}
	if z.QuietAt(time.Date(2024, 12, 1, 6, 30, 0, 0, time.UTC)) { // 07:30 Danish
		t.Error("07:30 is not")
	}
	if !z.QuietAt(time.Date(2024, 7, 1, 20, 30, 0, 0, time.UTC)) { // 22:30 summer time
		t.Error("22:30 in summer is quiet")
	}
}
