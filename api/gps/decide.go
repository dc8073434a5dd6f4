package gps

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
)

// TrackerState is what the store keeps of a tracker between positions; Decide reads and
// updates it inside the transaction that stores the position.
type TrackerState struct {
	Tracker    string
	Home       vagt.HomeID // "": not given to a citizen yet (positions stored, no zone alarms)
	LastAt     time.Time   // the newest accepted fix
	Outside    bool        // the citizen is out of every zone (an alarm was due)
	BatteryLow bool        // a low_battery alarm was raised and the battery has not recovered
	Zones      []Zone      // the home's safe zones
}

// Alarm is an alert a position raises.
type Alarm struct {
	Type    vagt.AlarmType
	Details map[string]string
	// OnlyIfNoneOpen raises nothing, not even a repeat, when the tracker has an unresolved
	// alert of this type: a citizen walking along the edge gives staff one alert, not a
	// stream of updates.
	OnlyIfNoneOpen bool
}

// Decide returns the alarms p raises and moves st on. Leaving: the fix is out of every
// zone by more than its accuracy plus the hysteresis; back: the fix is inside a zone.
// Between the two the state holds, so jitter around the edge raises nothing.
func Decide(st *TrackerState, p Position, l Limits) []Alarm {
	var out []Alarm
	// No coordinates in an alert's details: alerts are kept for years, positions only for
	// the retention period; the console reads them from the alert's track (docs/gps.md).
	details := func() map[string]string {
		return map[string]string{"tracker": p.Tracker, "acc_m": strconv.FormatFloat(p.Acc, 'f', 0, 64),
			"fix_at": p.At.UTC().Format(time.RFC3339)}
	}
	if p.Panic {
		d := details()
		d["source"] = "gps_tracker"
		out = append(out, Alarm{Type: vagt.AlarmPanic, Details: d})
	}
	if st.Home != "" && len(st.Zones) > 0 {
		dist, nearest := math.Inf(1), ""
		quiet := false
		for _, z := range st.Zones {
			if d := z.Outside(p.Lat, p.Lon); d < dist {
				dist, nearest = d, z.Name
			}
			quiet = quiet || z.QuietAt(p.At)
		}
		switch {
		case dist < 0:
			st.Outside = false
		case !st.Outside && !quiet && dist-p.Acc > l.Hysteresis:
			st.Outside = true
			d := details()
			d["zone"] = nearest
			d["outside_m"] = fmt.Sprintf("%.0f", dist)
			out = append(out, Alarm{Type: AlarmLeftZone, Details: d, OnlyIfNoneOpen: true})
		}
	}
	if p.Battery >= 0 {
		switch {
		case !st.BatteryLow && p.Battery <= l.LowBattery:
			st.BatteryLow = true
			d := details()
			d["battery"] = strconv.Itoa(p.Battery)
			out = append(out, Alarm{Type: vagt.AlarmLowBattery, Details: d, OnlyIfNoneOpen: true})
		case st.BatteryLow && p.Battery > l.LowBattery+10: // charged: the next low raises again
			st.BatteryLow = false
		}
	}
	return out
}
