package load

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Trackers: the load generator plays GPS trackers as the OwnTracks app does in MQTT mode
// (docs/gps.md): each on its own connection logged in as its tracker id, publishing a
// location JSON to owntracks/{id}/phone once per round. Tracker i lives 0.01° of latitude
// north of tracker i-1 from (55.77, 9.70) and walks straight north and back, out to
// TrackerWalk metres over 10 rounds, so it crosses the edge of any safe zone around its
// home smaller than that, again and again.

// TrackerID is the id (and broker user name) of tracker i (0-based) under prefix.
func TrackerID(prefix string, i int) string { return fmt.Sprintf("gps.%s-%06d", prefix, i+1) }

// TrackerHome is tracker i's home: where its walk starts.
func TrackerHome(i int) (lat, lon float64) { return 55.77 + float64(i)*0.01, 9.70 }

// trackerFix is tracker i's fix in round k: metres north of its home.
func trackerFix(cfg *Config, k int) float64 {
	phase := k % 20
	if phase > 10 {
		phase = 20 - phase
	}
	return cfg.TrackerWalk * float64(phase) / 10
}

// runTracker plays tracker i until the rounds or ctx end, and counts the positions the
// broker acknowledged.
func runTracker(ctx context.Context, cfg *Config, i int, counts []uint64) error {
	id := TrackerID(cfg.Prefix, i)
	client := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cfg.Broker).SetClientID(id + "-phone").
		SetUsername(id).SetPassword(cfg.TrackerPassword).SetCleanSession(true).SetAutoReconnect(false).
		SetWriteTimeout(30 * time.Second))
	if t := client.Connect(); !t.WaitTimeout(30*time.Second) || t.Error() != nil {
		return fmt.Errorf("load: tracker %s connect: %v", id, t.Error())
	}
	defer client.Disconnect(250)
	lat0, lon0 := TrackerHome(i)
	began := time.Now()
	for k := 0; cfg.Batches == 0 || k < cfg.Batches; k++ {
		if cfg.Interval > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Until(began.Add(time.Duration(k) * cfg.Interval))):
			}
		} else if ctx.Err() != nil {
			return nil
		}
		at := cfg.Start.Add(time.Duration(k) * cfg.Step)
		lat := lat0 + trackerFix(cfg, k)/111195
		batt := max(5, 100-k)
		payload := fmt.Appendf(nil, `{"_type":"location","acc":10,"alt":40,"batt":%d,"bs":1,"conn":"m","lat":%.6f,"lon":%.6f,"m":1,"t":"t","tid":"%s","tst":%d,"vac":3,"vel":1}`,
			batt, lat, lon0, tid(i), at.Unix())
		t := client.Publish("owntracks/"+id+"/phone", 1, false, payload)
		if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
			return &publishError{failed: 1, err: fmt.Errorf("tracker %s: %v", id, t.Error())}
		}
		counts[i]++
	}
	return nil
}

// tid is OwnTracks' two-character tracker id shown on the app's map.
func tid(i int) string { return string(rune('a'+i%26)) + string(rune('a'+(i/26)%26)) }
