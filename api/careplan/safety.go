package careplan

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// A care plan replaces the gateway's device map, so one careless save can make a home deaf
// (issue 22: `{"rules":{}}` left out every device). What a plan knowingly drops must be
// confirmed in its "confirm" list; anything else that drops protection is refused.

// unswitchable are the technologies whose alarm (panic, fall, smoke, water) no care plan
// switches off: the citizen or the home is in danger whatever the plan says.
var unswitchable = map[vagt.Technology]bool{
	vagt.TechPersonalAlarm: true, vagt.TechFallDetector: true, vagt.TechSmokeAlarm: true, vagt.TechWaterAlarm: true,
}

// alarmFields are the Zigbee2MQTT fields that carry an unswitchable alarm, by their kind.
var alarmFields = map[string]vagt.Kind{
	"action": vagt.KindButtonPress, "sos": vagt.KindButtonPress, "smoke": vagt.KindSmoke, "water_leak": vagt.KindWaterLeak,
}

// Drop is something a plan takes away from a home's protection: Token is what "confirm"
// must list to do it knowingly, Field the setting that does it.
type Drop struct {
	Token  string `json:"token"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Drops lists what the settings take away from a home whose gateways have the registered
// devices known: a registered device left out of the device map (the gateway would ignore
// it), and for a device whose alarm cannot be switched off, panic on press switched off,
// its alarm field mapped to something else, or its silence watch switched off.
func Drops(s Settings, known map[vagt.DeviceID]vagt.Technology) []Drop {
	var out []Drop
	listed := map[vagt.DeviceID]bool{}
	anyUnswitchable := false
	for i, d := range s.Devices {
		listed[d.Device] = true
		if !unswitchable[d.Technology] {
			continue
		}
		anyUnswitchable = true
		f := func(name string) string { return fmt.Sprintf("devices[%d].%s", i, name) }
		if d.PanicOnPress != nil && !*d.PanicOnPress && (d.Technology == vagt.TechPersonalAlarm || d.Technology == vagt.TechFallDetector) {
			out = append(out, Drop{Token: "panic_on_press_off:" + string(d.Device), Field: f("panic_on_press"),
				Reason: fmt.Sprintf("a press of %s (%s) would no longer be a panic", d.Device, d.Technology)})
		}
		if d.ReportEvery != nil && *d.ReportEvery == 0 {
			out = append(out, Drop{Token: "report_every_off:" + string(d.Device), Field: f("report_every"),
				Reason: fmt.Sprintf("nobody would notice %s (%s) falling silent", d.Device, d.Technology)})
		}
		for _, field := range sortedKeys(d.Fields) {
			if k, ok := alarmFields[field]; ok && d.Fields[field] != k {
				out = append(out, Drop{Token: "field_off:" + string(d.Device) + ":" + field, Field: f("fields." + field),
					Reason: fmt.Sprintf("%s of %s (%s) would be read as %s, not as its alarm", field, d.Device, d.Technology, d.Fields[field])})
			}
		}
	}
	if anyUnswitchable && s.Rules.SilentFactor != nil && *s.Rules.SilentFactor == 0 {
		out = append(out, Drop{Token: "silent_factor_off", Field: "rules.silent_factor",
			Reason: "nobody would notice a panic button, fall detector, smoke or water alarm falling silent"})
	}
	var left []vagt.DeviceID
	for id := range known {
		if !listed[id] {
			left = append(left, id)
		}
	}
	slices.Sort(left)
	for _, id := range left {
		why := "its readings"
		if unswitchable[known[id]] {
			why = "its alarms"
		}
		out = append(out, Drop{Token: "leave_out:" + string(id), Field: "devices",
			Reason: fmt.Sprintf("device %s (%s) is registered behind this home's gateway and left out: the gateway would ignore %s", id, known[id], why)})
	}
	return out
}

// checkConfirmed refuses drops the settings do not confirm. It returns the confirmations
// that match a drop, sorted: that is what the plan keeps in "confirm". A confirmation of
// something the plan does not drop is left out, not refused: a typo confirms nothing, so
// the drop it meant is still refused, and a stale one (the device was added back) is
// harmless.
func checkConfirmed(s Settings, known map[vagt.DeviceID]vagt.Technology) ([]string, error) {
	drops := Drops(s, known)
	var missing, confirmed []string
	var first *Drop
	for i, d := range drops {
		if !slices.Contains(s.Confirm, d.Token) {
			missing = append(missing, d.Token)
			if first == nil {
				first = &drops[i]
			}
		} else if !slices.Contains(confirmed, d.Token) {
			confirmed = append(confirmed, d.Token)
		}
	}
	if first != nil {
		return nil, &api.FieldError{Field: first.Field, Reason: fmt.Sprintf("%s; add it, or to do this knowingly send \"confirm\": [%s]",
			first.Reason, quoteAll(append(confirmed, missing...)))}
	}
	slices.Sort(confirmed)
	return confirmed, nil
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Coverage is how many of the devices registered behind a home's gateways its care plan
// covers: a device left out is ignored by the gateway.
type Coverage struct {
	Registered int  `json:"registered"`
	Covered    *int `json:"covered"` // null: no plan of its own; the gateway runs its installer's file
}

// coverage fills in the homes' Devices: the overview shows a plan that leaves devices out.
func (s *Service) coverage(ctx context.Context, mun vagt.MunicipalityCode, districts []int64, homes []HomeState) error {
	if len(homes) == 0 {
		return nil
	}
	facts, err := s.store.HomeCoverage(ctx, mun, districts)
	if err != nil {
		return err
	}
	for i := range homes {
		f := facts[homes[i].Home]
		c := Coverage{Registered: len(f.Registered)}
		if f.Plan != nil {
			var plan Settings
			_ = json.Unmarshal(f.Plan, &plan) // stored by Update: valid; unreadable covers nothing
			n := 0
			for _, d := range f.Registered {
				if slices.ContainsFunc(plan.Devices, func(p Device) bool { return p.Device == d }) {
					n++
				}
			}
			c.Covered = &n
		}
		homes[i].Devices = c
	}
	return nil
}
