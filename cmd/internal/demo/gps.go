package demo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// The demo's GPS tracker (docs/gps.md): the first home's citizen carries a phone running
// OwnTracks, with a 300 m safe zone around home. The simulated phone walks around the
// block and, every ten minutes or so, out of the zone and back, so the console shows a
// left_safe_zone alert with the map.

const demoTracker = "gps.demo-001"

// demoTrackerHome is where the walk starts (Hedensted).
var demoTrackerHome = [2]float64{55.7706, 9.7037}

// seedTracker registers the tracker and the zone for the home of h (again after a restart:
// an existing tracker is kept).
func seedTracker(ctx context.Context, store *sqlstore.Store, h demoHome) error {
	home := vagt.HomeID("home-" + strings.TrimPrefix(string(h.gateway), "demo-gw-"))
	err := store.CreateTracker(ctx, api.Scope{All: true}, demoTracker, home, "demo-tracker-has-no-osmand-key", "demo", time.Now())
	if err != nil && !errors.Is(err, api.ErrConflict) {
		return err
	}
	return store.SetSafeZones(ctx, api.Scope{All: true}, home, []gps.Zone{{Name: "Hjem", Center: &demoTrackerHome, Radius: 300}}, "demo", time.Now())
}

// walk is the tracker's distance from home (metres) and bearing in step k of a 30-step
// round: around the block, then out to 700 m and back.
func walk(k int) (metres, bearing float64) {
	switch phase := k % 30; {
	case phase < 20:
		return 120, float64(phase) * 18
	case phase < 25:
		return 120 + float64(phase-19)*120, 45
	default:
		return 720 - float64(phase-24)*120, 45
	}
}

// tracker publishes a location every step until ctx ends.
func (s *simulation) tracker(ctx context.Context, step time.Duration) {
	user, password, err := s.broker.user(demoTracker, roleTracker, demoTracker)
	if err != nil {
		s.log.Error("tracker login", "err", err)
		return
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.broker.url).SetClientID(demoTracker + "-phone").
		SetUsername(user).SetPassword(password).SetAutoReconnect(true).SetConnectRetry(true))
	c.Connect()
	defer c.Disconnect(250)
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(step):
		}
		d, b := walk(k + 15) // the first walk out comes a few minutes after the start
		lat := demoTrackerHome[0] + d*math.Cos(b*math.Pi/180)/111195
		lon := demoTrackerHome[1] + d*math.Sin(b*math.Pi/180)/(111195*math.Cos(demoTrackerHome[0]*math.Pi/180))
		payload := fmt.Appendf(nil, `{"_type":"location","acc":12,"batt":%d,"conn":"m","lat":%.6f,"lon":%.6f,"t":"t","tid":"d1","tst":%d,"vel":4}`,
			max(20, 100-k/20), lat, lon, time.Now().Unix())
		c.Publish("owntracks/"+demoTracker+"/phone", 1, false, payload)
	}
}
