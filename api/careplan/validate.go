package careplan

import (
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/night"
)

// Sane ranges: the wire allows more; a care plan outside these is a typo, not a plan.
var (
	rangeInactivity   = [2]time.Duration{time.Hour, 24 * time.Hour}
	rangeBedExit      = [2]time.Duration{time.Minute, 3 * time.Hour}
	rangeLowTempFor   = [2]time.Duration{10 * time.Minute, 24 * time.Hour}
	rangeReportEvery  = [2]time.Duration{time.Minute, 7 * 24 * time.Hour}
	rangeLowTemp      = [2]float64{5, 25}
	rangeLowBattery   = [2]int{5, 50}
	rangeSilentFactor = [2]int{2, 20}
	maxDoseWindow     = 6 * time.Hour
	maxRoleLen        = 32
)

// Check validates settings for a home: known is the devices registered behind its gateway
// (a device map may only name those, with their technology). It returns the gateway's
// configuration built from the settings merged over the defaults.
func Check(s Settings, known map[vagt.DeviceID]vagt.Technology, gw vagt.GatewayID, mun vagt.MunicipalityCode, version uint64) (Settings, vagt.HomeConfig, error) {
	if err := checkDevices(s.Devices, known); err != nil {
		return Settings{}, vagt.HomeConfig{}, err
	}
	if err := checkRules(s.Rules); err != nil {
		return Settings{}, vagt.HomeConfig{}, err
	}
	if err := checkNight(s); err != nil {
		return Settings{}, vagt.HomeConfig{}, err
	}
	eff := Effective(s, mun)
	probe := vagt.HomeConfig{TimeZone: eff.TimeZone}
	if _, err := probe.Location(); err != nil || len(eff.TimeZone) > 64 {
		return Settings{}, vagt.HomeConfig{}, &api.FieldError{Field: "time_zone", Reason: fmt.Sprintf("%q is not an IANA time zone", s.TimeZone)}
	}
	c, err := Config(eff, gw, mun, version)
	if err != nil {
		return Settings{}, vagt.HomeConfig{}, err
	}
	// What the defaults filled in must fit together too (a door-at-night default with the
	// night window switched off).
	r := c.Rules
	if (r.DoorAtNight || r.BedExit > 0) && r.Night.From == r.Night.To {
		return Settings{}, vagt.HomeConfig{}, &api.FieldError{Field: "rules.night", Reason: "door at night and bed exit need a night window; switch them off or set one"}
	}
	if r.Inactivity > 0 && r.Day.From == r.Day.To {
		return Settings{}, vagt.HomeConfig{}, &api.FieldError{Field: "rules.day", Reason: "inactivity needs a day window; switch it off or set one"}
	}
	if err := c.Validate(); err != nil {
		return Settings{}, vagt.HomeConfig{}, &api.FieldError{Field: "config", Reason: err.Error()}
	}
	return eff, c, nil
}

func checkDevices(devs []Device, known map[vagt.DeviceID]vagt.Technology) error {
	if len(devs) > vagt.MaxConfigDevices {
		return &api.FieldError{Field: "devices", Reason: fmt.Sprintf("%d devices, at most %d", len(devs), vagt.MaxConfigDevices)}
	}
	ids, names := map[vagt.DeviceID]bool{}, map[string]bool{}
	for i, d := range devs {
		f := func(name string) string { return fmt.Sprintf("devices[%d].%s", i, name) }
		if err := d.Device.Validate(); err != nil {
			return &api.FieldError{Field: f("device"), Reason: err.Error()}
		}
		tech, ok := known[d.Device]
		if !ok {
			return &api.FieldError{Field: f("device"), Reason: fmt.Sprintf("device %s is not registered behind this home's gateway", d.Device)}
		}
		if ids[d.Device] {
			return &api.FieldError{Field: f("device"), Reason: fmt.Sprintf("device %s listed twice", d.Device)}
		}
		ids[d.Device] = true
		if d.Technology != tech {
			return &api.FieldError{Field: f("technology"), Reason: fmt.Sprintf("device %s is registered as %s", d.Device, tech)}
		}
		if len(d.Role) > maxRoleLen {
			return &api.FieldError{Field: f("role"), Reason: fmt.Sprintf("at most %d bytes", maxRoleLen)}
		}
		if d.Zigbee != "" {
			if names[d.Zigbee] {
				return &api.FieldError{Field: f("zigbee"), Reason: fmt.Sprintf("Zigbee name %q used twice", d.Zigbee)}
			}
			names[d.Zigbee] = true
		}
		if d.ReportEvery != nil && *d.ReportEvery != 0 {
			if err := within(time.Duration(*d.ReportEvery), rangeReportEvery); err != nil {
				return &api.FieldError{Field: f("report_every"), Reason: err.Error()}
			}
		}
		check := vagt.HomeConfig{Gateway: "gw-check", Version: 1, Municipality: 101,
			Devices: []vagt.DeviceConfig{{Device: d.Device, Technology: d.Technology, Zigbee: d.Zigbee, Fields: d.Fields}}}
		if err := check.Validate(); err != nil {
			return &api.FieldError{Field: f("zigbee"), Reason: err.Error()}
		}
	}
	return nil
}

func checkRules(r Rules) error {
	for _, w := range []struct {
		field string
		v     *string
	}{{"rules.night", r.Night}, {"rules.day", r.Day}} {
		if w.v != nil {
			if _, err := vagt.ParseWindow(*w.v); err != nil {
				return &api.FieldError{Field: w.field, Reason: err.Error()}
			}
		}
	}
	for _, d := range []struct {
		field string
		v     *Duration
		r     [2]time.Duration
	}{{"rules.inactivity", r.Inactivity, rangeInactivity}, {"rules.bed_exit", r.BedExit, rangeBedExit},
		{"rules.low_temperature_for", r.LowTemperatureFor, rangeLowTempFor}} {
		if d.v != nil && *d.v != 0 {
			if err := within(time.Duration(*d.v), d.r); err != nil {
				return &api.FieldError{Field: d.field, Reason: err.Error()}
			}
		}
	}
	if t := r.LowTemperature; t != nil && *t != 0 && (*t < rangeLowTemp[0] || *t > rangeLowTemp[1]) {
		return &api.FieldError{Field: "rules.low_temperature", Reason: fmt.Sprintf("%g °C: 0 (off) or %g-%g °C", *t, rangeLowTemp[0], rangeLowTemp[1])}
	}
	for _, n := range []struct {
		field string
		v     *int
		r     [2]int
	}{{"rules.low_battery", r.LowBattery, rangeLowBattery}, {"rules.silent_factor", r.SilentFactor, rangeSilentFactor}} {
		if n.v != nil && *n.v != 0 && (*n.v < n.r[0] || *n.v > n.r[1]) {
			return &api.FieldError{Field: n.field, Reason: fmt.Sprintf("%d: 0 (off) or %d-%d", *n.v, n.r[0], n.r[1])}
		}
	}
	if r.Medication != nil {
		if len(*r.Medication) > vagt.MaxDoses {
			return &api.FieldError{Field: "rules.medication", Reason: fmt.Sprintf("at most %d doses", vagt.MaxDoses)}
		}
		seen := map[int]bool{}
		for i, d := range *r.Medication {
			if d.Dose < 1 || d.Dose > vagt.MaxDoses || seen[d.Dose] {
				return &api.FieldError{Field: fmt.Sprintf("rules.medication[%d].dose", i), Reason: fmt.Sprintf("dose %d: 1-%d, each once", d.Dose, vagt.MaxDoses)}
			}
			seen[d.Dose] = true
			w, err := vagt.ParseWindow(d.Window)
			if err == nil && (w.From == w.To || windowLength(w) > maxDoseWindow) {
				err = errors.New("a dose window is not empty and at most 6 h long")
			}
			if err != nil {
				return &api.FieldError{Field: fmt.Sprintf("rules.medication[%d].window", i), Reason: err.Error()}
			}
		}
	}
	return nil
}

func within(d time.Duration, r [2]time.Duration) error {
	if d < r[0] || d > r[1] || d%time.Second != 0 {
		return fmt.Errorf("%s: 0 (off) or whole seconds from %s to %s", d, r[0], r[1])
	}
	return nil
}

// windowLength is the window's nominal length (a DST night is an hour off; fine here).
func windowLength(w vagt.Window) time.Duration {
	m := int(w.To) - int(w.From)
	if m < 0 {
		m += 24 * 60
	}
	return time.Duration(m) * time.Minute
}

// checkNight validates the night checks against the technologies of the device map: a
// state no device of the home can report is refused, naming it (api/night).
func checkNight(s Settings) error {
	if s.NightChecks == nil {
		return nil
	}
	techs := make([]vagt.Technology, 0, len(s.Devices))
	for _, d := range s.Devices {
		techs = append(techs, d.Technology)
	}
	var fe *night.FieldError
	if err := s.NightChecks.Validate(techs); errors.As(err, &fe) {
		return &api.FieldError{Field: "night_checks." + fe.Field, Reason: fe.Reason}
	} else if err != nil {
		return &api.FieldError{Field: "night_checks", Reason: err.Error()}
	}
	return nil
}
