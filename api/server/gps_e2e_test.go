package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The home zone of the GPS tests: 300 m around Søndergade 4, Hedensted.
const gpsZone = `{"zones":[{"name":"Hjem","center":[55.7700,9.7000],"radius_m":300,"quiet_hours":[{"from":"12:00","to":"13:00"}]}]}`

// ownTracks is an OwnTracks location metres north of the zone's edge, as the Android app
// publishes it (owntracks.org/booklet/tech/json).
func ownTracks(at time.Time, metres float64, extra string) []byte {
	return fmt.Appendf(nil, `{"_type":"location","acc":10,"alt":41,"batt":80,"bs":1,"conn":"m","created_at":%d,"lat":%.6f,"lon":9.700000,"m":1,"t":"t","tid":"kj","tst":%d,"vac":3,"vel":0%s}`,
		at.Unix(), 55.7700+(300+metres)/111195, at.Unix(), extra)
}

// tracker is a phone running OwnTracks in MQTT mode with its own broker login.
func tracker(t *testing.T, broker, user string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(user + "-phone").SetUsername(user).SetPassword("pw-" + user))
	if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("%s connect: %v", user, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

// TestGPSEndToEnd, on SQLite and PostgreSQL, with the production broker ACL on a real
// Mosquitto: staff register a tracker and its zone (a bow tie refused); OwnTracks
// positions arrive under the tracker's own login; another tracker's login cannot publish
// under its topic (the broker drops it); leaving the zone becomes a left_safe_zone alert on
// the stream, whose track (zone, address, positions) district staff read, audited, and
// other districts cannot; the tracker jumping across the edge floods nothing; the manual
// publish is a panic; Traccar Client's OsmAnd requests are taken on the tracker's key and
// refused for another id, a wrong key, or an inaccurate fix; a silent tracker gets a
// technical alert.
func TestGPSEndToEnd(t *testing.T) {
	acl, err := os.ReadFile(filepath.Join(localstack.RepoRoot(), "deploy", "mosquitto", "acl"))
	if err != nil {
		t.Fatal(err)
	}
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			users := map[string]string{"svc_api": "pw-svc_api", "gps.karen-01": "pw-gps.karen-01", "gps.mallory": "pw-gps.mallory", "gw-0042": "pw-gw-0042"}
			broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true, Users: users, ACL: string(acl)})
			clock := api.NewManualClock(t0)
			srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: dsn(t), Broker: broker.URL(), ClientID: "vagt-api-gps-" + name,
				Username: "svc_api", Password: "pw-svc_api", Tick: 20 * time.Millisecond, FeedPoll: 200 * time.Millisecond}, server.Deps{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			st := &stack{srv: srv, base: "http://" + srv.Addr(), clock: clock, tokens: map[string]string{}, cancel: cancel, done: make(chan error, 1)}
			go func() { st.done <- srv.Run(ctx) }()
			t.Cleanup(st.stop)
			waitFor(t, "the API to be ready", func() bool {
				resp, err := http.Get(st.base + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
			waitFor(t, "the trackers' topics subscribed", srv.OwnTracksSubscribed)
			st.world(t)
			events := st.stream(t, "anna", 0)

			var created struct{ ID, Key, OsmandPath string }
			// Refused as missing: an object out of the caller's scope answers 404.
			if code := st.call(t, "sara", "POST", "/api/v1/homes/home-0042/trackers", `{"id":"gps.karen-01"}`, nil); code != http.StatusNotFound {
				t.Errorf("another district registers a tracker: %d", code)
			}
			if code := st.call(t, "anna", "POST", "/api/v1/homes/home-0042/trackers", `{"id":"gps.karen-01"}`, &created); code != http.StatusCreated || created.Key == "" {
				t.Fatalf("register tracker: %d %+v", code, created)
			}
			bowTie := `{"zones":[{"name":"x","points":[[55.77,9.70],[55.77,9.72],[55.78,9.70],[55.78,9.73]]}]}`
			var refusal struct {
				Error struct{ Code, Message string }
			}
			if code := st.call(t, "anna", "PUT", "/api/v1/homes/home-0042/safezones", bowTie, &refusal); code != http.StatusBadRequest || !strings.Contains(refusal.Error.Message, "cross") {
				t.Fatalf("a zone that is not a simple polygon: %d %+v", code, refusal)
			}
			if code := st.call(t, "anna", "PUT", "/api/v1/homes/home-0042/safezones", gpsZone, nil); code != http.StatusOK {
				t.Fatalf("set zone: %d", code)
			}

			karen := tracker(t, broker.URL(), "gps.karen-01")
			mallory := tracker(t, broker.URL(), "gps.mallory")
			at := t0.Add(-20 * time.Minute)
			publish(t, karen, "owntracks/gps.karen-01/phone", ownTracks(at, -100, ""))
			// Mallory's login may not write under Karen's topic: the broker drops it. Her
			// next message, on her own topic, is the marker that the first was not delivered.
			publish(t, mallory, "owntracks/gps.karen-01/phone", ownTracks(at.Add(time.Minute), 500, ""))
			publish(t, mallory, "owntracks/gps.mallory/phone", ownTracks(at.Add(time.Minute), 500, ""))
			waitFor(t, "mallory's own message refused", func() bool { return srv.GPS().Rejected("owntracks", gps.ReasonUnknown) >= 1 })
			var list struct{ Alerts []alerts.Alert }
			if st.call(t, "anna", "GET", "/api/v1/alerts", "", &list); len(list.Alerts) != 0 {
				t.Fatalf("alerts after mallory's attempt: %+v", list)
			}

			at = at.Add(2 * time.Minute)
			publish(t, karen, "owntracks/gps.karen-01/phone", ownTracks(at, 250, ""))
			left := next(t, events, "left_safe_zone", func(e sseEvent) bool { return e.Name == "new" }).Data.Alert
			if left.Type != vagt.AlarmLeftSafeZone || left.District != st.north || left.Home != "home-0042" || left.Details["zone"] != "Hjem" {
				t.Fatalf("left zone alert: %+v", left)
			}
			var track gps.Track
			if code := st.call(t, "anna", "GET", "/api/v1/alerts/"+itoa(left.ID)+"/track", "", &track); code != 200 || len(track.Positions) != 2 ||
				track.Address == "" || len(track.Zones) != 1 || track.Positions[1].Acc != 10 {
				t.Fatalf("track: %d %+v", code, track)
			}
			if code := st.call(t, "sara", "GET", "/api/v1/alerts/"+itoa(left.ID)+"/track", "", nil); code != http.StatusNotFound {
				t.Errorf("another district reads the track: %d", code)
			}
			var audit struct{ Entries []api.AuditEntry }
			st.call(t, "admin", "GET", "/api/v1/audit?object=alert/"+itoa(left.ID), "", &audit)
			if len(audit.Entries) != 1 || audit.Entries[0].Action != "gps.track.read" || audit.Entries[0].Actor != "anna" {
				t.Errorf("audit of the track read: %+v", audit)
			}

			// Chaos: the tracker jumps across the zone's edge 30 times; then a panic press
			// (the manual publish) marks the end. Nothing between the two on the stream.
			for i := range 30 {
				at = at.Add(10 * time.Second)
				m := 400.0
				if i%2 == 0 {
					m = -200
				}
				publish(t, karen, "owntracks/gps.karen-01/phone", ownTracks(at, m, ""))
			}
			at = at.Add(10 * time.Second)
			publish(t, karen, "owntracks/gps.karen-01/phone", []byte(strings.Replace(string(ownTracks(at, 400, "")), `"t":"t"`, `"t":"u"`, 1)))
			panicEv := next(t, events, "the panic", func(e sseEvent) bool {
				if e.Data.Alert.ID == left.ID {
					t.Errorf("the jumps changed the left zone alert: %s %+v", e.Name, e.Data)
				}
				return e.Name == "new"
			})
			if panicEv.Data.Alert.Type != vagt.AlarmPanic || panicEv.Data.Alert.Priority != vagt.PriorityCritical || panicEv.Data.Alert.Home != "home-0042" {
				t.Fatalf("panic: %+v", panicEv.Data.Alert)
			}

			// Traccar Client: OsmAnd on the tracker's key.
			osm := func(key, query string) (int, map[string]any) {
				var out map[string]any
				code := apitest.Call(t, st.base, "", "POST", "/gps/osmand/"+key+"?"+query, "", &out)
				return code, out
			}
			q := func(id string, at time.Time, acc int, extra string) string {
				return url.Values{"id": {id}, "timestamp": {fmt.Sprint(at.Unix())}, "lat": {"55.7700"}, "lon": {"9.7000"}, "speed": {"0.0"},
					"bearing": {"0.0"}, "altitude": {"40.0"}, "accuracy": {fmt.Sprint(acc)}, "batt": {"77.0"}}.Encode() + extra
			}
			at = at.Add(time.Minute)
			if code, out := osm(created.Key, q("gps.karen-01", at, 8, "")); code != 200 || out["accepted"] != true {
				t.Errorf("osmand fix: %d %v", code, out)
			}
			if code, out := osm(created.Key, q("gps.karen-01", at, 8, "")); code != 200 || out["reason"] != gps.ReasonDuplicate {
				t.Errorf("osmand duplicate: %d %v", code, out)
			}
			if code, out := osm(created.Key, q("gps.karen-01", at.Add(time.Second), 900, "")); code != 200 || out["reason"] != gps.ReasonInaccurate {
				t.Errorf("osmand inaccurate: %d %v", code, out)
			}
			if code, out := osm(created.Key, q("gps.karen-01", t0.Add(time.Hour), 8, "")); code != 200 || out["reason"] != gps.ReasonFuture {
				t.Errorf("osmand from the future: %d %v", code, out)
			}
			if code, _ := osm(created.Key, q("gps.mallory", at.Add(2*time.Second), 8, "")); code != http.StatusForbidden {
				t.Errorf("osmand for another tracker: %d", code)
			}
			if code, _ := osm("not-a-key", q("gps.karen-01", at.Add(2*time.Second), 8, "")); code != http.StatusUnauthorized {
				t.Errorf("osmand with a wrong key: %d", code)
			}
			if code, _ := osm(created.Key, "id=gps.karen-01&lat=55"); code != http.StatusBadRequest {
				t.Errorf("osmand malformed: %d", code)
			}
			if code, out := osm(created.Key, q("gps.karen-01", at.Add(3*time.Second), 8, "&alarm=sos")); code != 200 || out["accepted"] != true {
				t.Errorf("osmand sos: %d %v", code, out)
			}
			next(t, events, "the sos folded into the panic", func(e sseEvent) bool {
				return e.Data.Alert.ID == panicEv.Data.Alert.ID && e.Data.Change == "repeated"
			})

			// Silent for longer than the silence: a technical alert.
			clock.Advance(time.Hour)
			srv.GPS().Tick(t.Context())
			silent := next(t, events, "silent tracker", func(e sseEvent) bool { return e.Name == "new" }).Data.Alert
			if silent.Type != vagt.AlarmSilentDevice || silent.Priority != vagt.PriorityTechnical || silent.Device != "gps.karen-01" {
				t.Errorf("silent: %+v", silent)
			}
		})
	}
}
