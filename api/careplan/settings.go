// Package careplan keeps each home's care plan — its device map and edge-rule settings —
// and gets it onto the home's gateway: staff change it over the API, it is validated with
// field-level errors, merged over the defaults of the home's municipality and
// technologies, stored with a version that increases on every change, and published as
// CBOR (vagt.EncodeConfig) retained with QoS 1 on the gateway's config lane. The gateway's
// status brings back the version it runs or why it refused one; a gateway that reports an
// older version (it was offline, the broker lost the retained message) gets it again.
package careplan

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/night"
)

// Settings is a home's care plan as staff write it. A rule left out (null) takes the
// default of the home's municipality and technologies (Defaults); "" switches a window
// off, 0 a duration or threshold.
type Settings struct {
	// Confirm lists what the plan knowingly drops (Drops: "leave_out:<device>", ...);
	// stored with the plan (only what it does drop) and named in the audit log.
	Confirm []string `json:"confirm,omitempty"`

	TimeZone string   `json:"time_zone,omitempty"` // IANA; "" Europe/Copenhagen
	Devices  []Device `json:"devices"`
	Rules    Rules    `json:"rules"`
	// Absence: the citizen is away (absence.go); nil: at home.
	Absence *Absence `json:"absence,omitempty"`
	// NightChecks: the times and good state of digital night supervision (api/night); the
	// gateway does not read them. nil: no night checks.
	NightChecks *night.Plan `json:"night_checks,omitempty"`
}

// Device is one entry of the device map: which device it is and what it means.
type Device struct {
	Device     vagt.DeviceID   `json:"device"`
	Technology vagt.Technology `json:"technology"`
	// Role says what the device is to the staff ("front_door", "bed", "panic_button"); the
	// gateway does not read it.
	Role         string               `json:"role,omitempty"`
	Zigbee       string               `json:"zigbee,omitempty"` // Zigbee2MQTT friendly name; "" serial
	Fields       map[string]vagt.Kind `json:"fields,omitempty"`
	ReportEvery  *Duration            `json:"report_every,omitempty"`   // null: the technology's default
	PanicOnPress *bool                `json:"panic_on_press,omitempty"` // null: the technology's default
}

// Rules are the edge-rule settings; nil fields take the defaults.
type Rules struct {
	Night             *string   `json:"night,omitempty"` // "22:00-07:00", local time
	Day               *string   `json:"day,omitempty"`
	Inactivity        *Duration `json:"inactivity,omitempty"`
	DoorAtNight       *bool     `json:"door_at_night,omitempty"`
	BedExit           *Duration `json:"bed_exit,omitempty"`
	LowTemperature    *float64  `json:"low_temperature,omitempty"` // °C
	LowTemperatureFor *Duration `json:"low_temperature_for,omitempty"`
	Medication        *[]Dose   `json:"medication,omitempty"`
	LowBattery        *int      `json:"low_battery,omitempty"`   // %
	SilentFactor      *int      `json:"silent_factor,omitempty"` // × report_every
}

// Dose is a medication window.
type Dose struct {
	Dose   int    `json:"dose"`
	Window string `json:"window"` // "08:00-10:00"
}

// Duration is a time.Duration written as "20m" in JSON.
type Duration time.Duration

// MarshalJSON writes "20m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON parses "20m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string like "20m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func ptr[T any](v T) *T { return &v }

// merge returns r with every nil field taken from def.
func (r Rules) merge(def Rules) Rules {
	if r.Night == nil {
		r.Night = def.Night
	}
	if r.Day == nil {
		r.Day = def.Day
	}
	if r.Inactivity == nil {
		r.Inactivity = def.Inactivity
	}
	if r.DoorAtNight == nil {
		r.DoorAtNight = def.DoorAtNight
	}
	if r.BedExit == nil {
		r.BedExit = def.BedExit
	}
	if r.LowTemperature == nil {
		r.LowTemperature = def.LowTemperature
	}
	if r.LowTemperatureFor == nil {
		r.LowTemperatureFor = def.LowTemperatureFor
	}
	if r.Medication == nil {
		r.Medication = def.Medication
	}
	if r.LowBattery == nil {
		r.LowBattery = def.LowBattery
	}
	if r.SilentFactor == nil {
		r.SilentFactor = def.SilentFactor
	}
	return r
}

// Effective returns the settings with every default filled in: what the gateway runs.
func Effective(s Settings, mun vagt.MunicipalityCode) Settings {
	techs := make([]vagt.Technology, 0, len(s.Devices))
	out := Settings{TimeZone: s.TimeZone, Rules: s.Rules, NightChecks: s.NightChecks}
	if a := s.Absence; a != nil {
		out.Absence = &Absence{From: a.From.UTC().Truncate(time.Second), Until: a.Until.UTC().Truncate(time.Second), Reason: a.Reason}
	}
	if out.TimeZone == "" {
		out.TimeZone = vagt.DefaultTimeZone
	}
	for _, d := range s.Devices {
		techs = append(techs, d.Technology)
		every, panic := deviceDefaults(d.Technology)
		if d.ReportEvery == nil {
			d.ReportEvery = ptr(Duration(every))
		}
		if d.PanicOnPress == nil {
			d.PanicOnPress = ptr(panic)
		}
		out.Devices = append(out.Devices, d)
	}
	out.Rules = out.Rules.merge(Defaults(mun, techs))
	return out
}

// Config builds the gateway's configuration from effective settings (Effective).
func Config(eff Settings, gw vagt.GatewayID, mun vagt.MunicipalityCode, version uint64) (vagt.HomeConfig, error) {
	var err error
	c := vagt.HomeConfig{Gateway: gw, Version: version, Municipality: mun, TimeZone: eff.TimeZone}
	if c.TimeZone == vagt.DefaultTimeZone {
		c.TimeZone = "" // the wire's default: keep the message canonical and short
	}
	for _, d := range eff.Devices {
		dc := vagt.DeviceConfig{Device: d.Device, Technology: d.Technology, Zigbee: d.Zigbee, Fields: d.Fields}
		if d.ReportEvery != nil {
			dc.ReportEvery = time.Duration(*d.ReportEvery)
		}
		if d.PanicOnPress != nil {
			dc.PanicOnPress = *d.PanicOnPress
		}
		c.Devices = append(c.Devices, dc)
	}
	if c.Absence, err = eff.Absence.config(); err != nil {
		return c, err
	}
	r := eff.Rules
	if c.Rules.Night, err = vagt.ParseWindow(deref(r.Night)); err != nil {
		return c, &api.FieldError{Field: "rules.night", Reason: err.Error()}
	}
	if c.Rules.Day, err = vagt.ParseWindow(deref(r.Day)); err != nil {
		return c, &api.FieldError{Field: "rules.day", Reason: err.Error()}
	}
	c.Rules.Inactivity = time.Duration(deref(r.Inactivity))
	c.Rules.DoorAtNight = deref(r.DoorAtNight)
	c.Rules.BedExit = time.Duration(deref(r.BedExit))
	c.Rules.LowTemperature = deref(r.LowTemperature)
	c.Rules.LowTemperatureFor = time.Duration(deref(r.LowTemperatureFor))
	c.Rules.LowBattery, c.Rules.SilentFactor = deref(r.LowBattery), deref(r.SilentFactor)
	if r.Medication != nil {
		for i, d := range *r.Medication {
			w, err := vagt.ParseWindow(d.Window)
			if err != nil {
				return c, &api.FieldError{Field: fmt.Sprintf("rules.medication[%d].window", i), Reason: err.Error()}
			}
			c.Rules.Medication = append(c.Rules.Medication, vagt.DoseWindow{Dose: d.Dose, Window: w})
		}
	}
	return c, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
