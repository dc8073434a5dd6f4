package vagt

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Copenhagen must resolve on a host without a zoneinfo database
)

// HomeConfig is a home's configuration: which devices the gateway looks after and what
// they mean, and how the edge rules judge them. The platform keeps it (the care plan of
// the citizen decides the rules) and sends it retained on the gateway's config lane; the
// gateway runs the highest version it has seen and reports that version in its status.
type HomeConfig struct {
	Gateway      GatewayID
	Version      uint64 // increases with every change; 0 is not a version
	Municipality MunicipalityCode
	TimeZone     string // IANA name for the rule windows; "" means Europe/Copenhagen
	Devices      []DeviceConfig
	Rules        RuleSettings
	// Absence silences the routine rules while the citizen is away (zero: none).
	Absence Absence
}

// DeviceConfig is one device of the home.
type DeviceConfig struct {
	Device     DeviceID
	Technology Technology
	// Zigbee is the device's Zigbee2MQTT friendly name; "" for a device on the serial line.
	Zigbee string
	// Fields maps Zigbee2MQTT payload fields to kinds where the default mapping does not
	// fit: a bed sensor's "occupancy" is bed_occupied, not motion.
	Fields map[string]Kind
	// ReportEvery is how often the device reports when all is well (a heartbeat, a
	// periodic reading); 0: the device is not watched for silence.
	ReportEvery time.Duration
	// PanicOnPress makes every press of the device's button a panic (a pendant has one
	// button, and it means help).
	PanicOnPress bool
}

// RuleSettings configure the edge rules; a zero value turns a rule off.
type RuleSettings struct {
	Night Window // door at night, bed exit
	Day   Window // inactivity

	Inactivity        time.Duration // no motion, door or bed activity this long within Day
	DoorAtNight       bool          // a door opening within Night
	BedExit           time.Duration // out of bed within Night and not back this long
	LowTemperature    float64       // °C, with LowTemperatureFor
	LowTemperatureFor time.Duration // below LowTemperature this long
	Medication        []DoseWindow  // doses to be taken within their windows
	LowBattery        int           // % below which a battery is low
	SilentFactor      int           // a device silent for ReportEvery × this is silent
}

// TimeOfDay is minutes after local midnight, 0..1439.
type TimeOfDay uint16

// String returns "HH:MM".
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", t/60, t%60) }

// ParseTimeOfDay parses "HH:MM": two digits, a colon, two digits.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	digit := func(i int) int {
		if c := s[i]; c >= '0' && c <= '9' {
			return int(c - '0')
		}
		return -100
	}
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%w: time of day %q, want HH:MM", ErrOutOfRange, clip(s))
	}
	h, m := digit(0)*10+digit(1), digit(3)*10+digit(4)
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("%w: time of day %q, want HH:MM", ErrOutOfRange, clip(s))
	}
	return TimeOfDay(h*60 + m), nil
}

// ParseWindow parses "HH:MM-HH:MM" as people write windows in a care plan or the gateway's
// file (22:00-07:00 crosses midnight); "" is the empty window (the rule is off).
func ParseWindow(s string) (Window, error) {
	if s == "" {
		return Window{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	f, err1 := ParseTimeOfDay(from)
	t, err2 := ParseTimeOfDay(to)
	if !ok || err1 != nil || err2 != nil {
		return Window{}, windowError(clip(s))
	}
	return Window{From: f, To: t}, nil
}

// windowError is a window that does not parse: the message is what the person who wrote it
// needs; errors.Is finds ErrOutOfRange.
type windowError string

func (e windowError) Error() string {
	return fmt.Sprintf("window %q: want HH:MM-HH:MM within a day", string(e))
}

func (windowError) Unwrap() error { return ErrOutOfRange }

// Window is a daily time window in local time, From inclusive, To exclusive. From after
// To crosses midnight (22:00–07:00); From equal to To is empty.
type Window struct {
	From, To TimeOfDay
}

// Contains reports whether the local time t falls in the window.
func (w Window) Contains(t time.Time) bool {
	m := TimeOfDay(t.Hour()*60 + t.Minute())
	switch {
	case w.From == w.To:
		return false
	case w.From < w.To:
		return m >= w.From && m < w.To
	}
	return m >= w.From || m < w.To
}

// DoseWindow is a dose of medication (numbered 1..8, as the dispenser numbers them) and
// when it is to be taken.
type DoseWindow struct {
	Dose int
	Window
}

// Limits on a home configuration.
const (
	MaxConfigDevices = MaxBatchDevices
	MaxDeviceFields  = 16
	MaxDoses         = 8
	maxZigbeeName    = 64
	maxTimeZone      = 64
)

// DefaultTimeZone is where a home's rule windows are read when its configuration names
// no time zone.
const DefaultTimeZone = "Europe/Copenhagen"

// Copenhagen is DefaultTimeZone, loaded once for every component: the zone Danish days,
// weeks, months and quarters are cut in (statistics, the daily roll-up, the demo's homes).
// A month that contains a change of clock is 743 or 745 hours long.
var Copenhagen = mustLoadLocation(DefaultTimeZone)

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("vagt: " + err.Error()) // cannot happen: time/tzdata is linked in
	}
	return loc
}

// Location returns the home's time zone. "Local" is refused: it would mean the zone of
// whatever box runs the rules (UTC on a Raspberry Pi), so every window would be off.
func (c *HomeConfig) Location() (*time.Location, error) {
	tz := c.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	if tz == "Local" {
		return nil, fmt.Errorf("%w: time zone %q: name an IANA zone", ErrOutOfRange, tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone %q: %v", ErrOutOfRange, clip(tz), err)
	}
	return loc, nil
}

// Validate checks every field of the configuration.
func (c *HomeConfig) Validate() error {
	if err := c.Gateway.Validate(); err != nil {
		return err
	}
	if err := validSeq("config version", c.Version); err != nil {
		return err
	}
	if err := c.Municipality.Validate(); err != nil {
		return err
	}
	if len(c.TimeZone) > maxTimeZone {
		return fmt.Errorf("%w: time zone longer than %d bytes", ErrTooLarge, maxTimeZone)
	}
	if _, err := c.Location(); err != nil {
		return err
	}
	if len(c.Devices) > MaxConfigDevices {
		return fmt.Errorf("%w: %d devices, at most %d", ErrTooLarge, len(c.Devices), MaxConfigDevices)
	}
	ids, names := map[DeviceID]bool{}, map[string]bool{}
	for i := range c.Devices {
		d := &c.Devices[i]
		if err := d.validate(); err != nil {
			return fmt.Errorf("device %d: %w", i, err)
		}
		if ids[d.Device] || (d.Zigbee != "" && names[d.Zigbee]) {
			return fmt.Errorf("device %d: %w: %s or its Zigbee name listed twice", i, ErrDuplicateKey, d.Device)
		}
		ids[d.Device], names[d.Zigbee] = true, true
	}
	if err := c.Absence.Validate(); err != nil {
		return err
	}
	return c.Rules.validate()
}

func (d *DeviceConfig) validate() error {
	if err := d.Device.Validate(); err != nil {
		return err
	}
	if err := d.Technology.Validate(); err != nil {
		return err
	}
	if err := validText("Zigbee name", d.Zigbee, maxZigbeeName); err != nil {
		return err
	}
	if len(d.Fields) > MaxDeviceFields {
		return fmt.Errorf("%w: %d fields, at most %d", ErrTooLarge, len(d.Fields), MaxDeviceFields)
	}
	for f, k := range d.Fields {
		if f == "" || validText("field name", f, maxZigbeeName) != nil {
			return fmt.Errorf("%w: field name %q", ErrOutOfRange, clip(f))
		}
		if err := k.Validate(); err != nil {
			return err
		}
	}
	return wholeSeconds("report interval", d.ReportEvery, 7*24*time.Hour)
}

func wholeSeconds(what string, d, limit time.Duration) error {
	if d < 0 || d > limit || d%time.Second != 0 {
		return fmt.Errorf("%w: %s %s: whole seconds up to %s", ErrOutOfRange, what, d, limit)
	}
	return nil
}

func (r *RuleSettings) validate() error {
	for _, w := range []Window{r.Night, r.Day} {
		if err := w.validate(); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		what  string
		d     time.Duration
		limit time.Duration
	}{{"inactivity", r.Inactivity, 48 * time.Hour}, {"bed exit", r.BedExit, 12 * time.Hour}, {"low temperature duration", r.LowTemperatureFor, 48 * time.Hour}} {
		if err := wholeSeconds(c.what, c.d, c.limit); err != nil {
			return err
		}
	}
	// A rule switched on without the window it reads could never fire.
	if (r.DoorAtNight || r.BedExit > 0) && r.Night.From == r.Night.To {
		return fmt.Errorf("%w: door at night and bed exit need a night window", ErrMissingField)
	}
	if r.Inactivity > 0 && r.Day.From == r.Day.To {
		return fmt.Errorf("%w: inactivity needs a day window", ErrMissingField)
	}
	if _, err := KindTemperature.ToWire(r.LowTemperature); err != nil {
		return fmt.Errorf("low temperature: %w", err)
	}
	if r.LowBattery < 0 || r.LowBattery > 100 || r.SilentFactor < 0 || r.SilentFactor > 100 {
		return fmt.Errorf("%w: low battery %d%% (0-100), silent factor %d (0-100)", ErrOutOfRange, r.LowBattery, r.SilentFactor)
	}
	if len(r.Medication) > MaxDoses {
		return fmt.Errorf("%w: %d doses, at most %d", ErrTooLarge, len(r.Medication), MaxDoses)
	}
	seen := map[int]bool{}
	for _, d := range r.Medication {
		if d.Dose < 1 || d.Dose > MaxDoses {
			return fmt.Errorf("%w: dose %d, want 1-%d", ErrOutOfRange, d.Dose, MaxDoses)
		}
		if seen[d.Dose] {
			return fmt.Errorf("%w: dose %d twice", ErrDuplicateKey, d.Dose)
		}
		seen[d.Dose] = true
		if err := d.Window.validate(); err != nil {
			return err
		}
		if d.From == d.To {
			return fmt.Errorf("%w: dose %d: empty window", ErrOutOfRange, d.Dose)
		}
	}
	return nil
}

func (w Window) validate() error {
	if w.From > 1439 || w.To > 1439 {
		return fmt.Errorf("%w: window %d-%d: minutes after midnight, 0-1439", ErrOutOfRange, w.From, w.To)
	}
	return nil
}

// Bounds returns the occurrence of the window that contains local, or else the next one to
// begin after it, as instants. It is built with time.Date in local's location, so a window
// across a DST change has its real length (a 22:00-07:00 night is 8 or 10 hours then).
func (w Window) Bounds(local time.Time) (start, end time.Time) {
	y, mo, d := local.Date()
	at := func(day int, m TimeOfDay) time.Time {
		return time.Date(y, mo, day, int(m/60), int(m%60), 0, 0, local.Location())
	}
	for _, day := range []int{d - 1, d, d + 1} {
		start = at(day, w.From)
		end = at(day, w.To)
		if w.From > w.To {
			end = at(day+1, w.To)
		}
		if local.Before(end) {
			return start, end
		}
	}
	return start, end
}

// Device returns the configuration of the device with the id, and false if there is none.
func (c *HomeConfig) Device(id DeviceID) (DeviceConfig, bool) {
	for _, d := range c.Devices {
		if d.Device == id {
			return d, true
		}
	}
	return DeviceConfig{}, false
}
