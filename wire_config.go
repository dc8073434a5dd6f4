package vagt

import (
	"fmt"
	"time"
)

// MaxConfigBytes bounds an encoded home configuration.
const MaxConfigBytes = 128 << 10

var configDecMode = mustDecMode(MaxConfigDevices)

// wireConfig is a home configuration on the wire (docs/wire.md, "config").
type wireConfig struct {
	Version      *uint64      `cbor:"0,keyasint"`
	Gateway      string       `cbor:"1,keyasint"`
	Config       uint64       `cbor:"2,keyasint"`
	Municipality uint64       `cbor:"3,keyasint"`
	TimeZone     string       `cbor:"4,keyasint,omitempty"`
	Devices      []wireDevice `cbor:"5,keyasint,omitempty"`
	Night        *wireWindow  `cbor:"6,keyasint,omitempty"`
	Day          *wireWindow  `cbor:"7,keyasint,omitempty"`
	Inactivity   uint64       `cbor:"8,keyasint,omitempty"` // s
	DoorAtNight  bool         `cbor:"9,keyasint,omitempty"`
	BedExit      uint64       `cbor:"10,keyasint,omitempty"` // s
	LowTemp      int64        `cbor:"11,keyasint,omitempty"` // centi-°C
	LowTempFor   uint64       `cbor:"12,keyasint,omitempty"` // s
	Medication   []wireDose   `cbor:"13,keyasint,omitempty"`
	LowBattery   uint64       `cbor:"14,keyasint,omitempty"` // %
	SilentFactor uint64       `cbor:"15,keyasint,omitempty"`
	Absence      *wireAbsence `cbor:"16,keyasint,omitempty"` // version 2 only
}

// ConfigVersionAbsence is the wire version of a configuration that carries an absence
// (key 16). The platform writes it only then: every other configuration stays version 1,
// byte for byte, so a gateway that reads only version 1 keeps taking every plan without
// an absence, and refuses (and reports) one with it while running the plan it had.
const ConfigVersionAbsence = 2

// wireAbsence is [from, until], Unix ms.
type wireAbsence struct {
	_           struct{} `cbor:",toarray"`
	From, Until uint64
}

type wireDevice struct {
	Device       string            `cbor:"0,keyasint"`
	Technology   uint64            `cbor:"1,keyasint"`
	Zigbee       string            `cbor:"2,keyasint,omitempty"`
	ReportEvery  uint64            `cbor:"3,keyasint,omitempty"` // s
	Fields       map[string]uint64 `cbor:"4,keyasint,omitempty"`
	PanicOnPress bool              `cbor:"5,keyasint,omitempty"`
}

// wireWindow is [from, to], minutes after local midnight.
type wireWindow struct {
	_        struct{} `cbor:",toarray"`
	From, To uint64
}

// wireDose is [dose, from, to].
type wireDose struct {
	_              struct{} `cbor:",toarray"`
	Dose, From, To uint64
}

func toWireWindow(w Window) *wireWindow {
	if w == (Window{}) {
		return nil
	}
	return &wireWindow{From: uint64(w.From), To: uint64(w.To)}
}

// EncodeConfig returns the configuration in canonical form, validating it first.
func EncodeConfig(c *HomeConfig) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	v := uint64(WireVersion)
	r := &c.Rules
	var absence *wireAbsence
	if !c.Absence.IsZero() {
		v = ConfigVersionAbsence
		absence = &wireAbsence{From: uint64(c.Absence.From.UnixMilli()), Until: uint64(c.Absence.Until.UnixMilli())}
	}
	lowTemp, _ := KindTemperature.ToWire(r.LowTemperature) // checked by Validate
	w := wireConfig{
		Version: &v, Gateway: string(c.Gateway), Config: c.Version, Municipality: uint64(c.Municipality),
		TimeZone: c.TimeZone, Night: toWireWindow(r.Night), Day: toWireWindow(r.Day),
		Inactivity: uint64(r.Inactivity / time.Second), DoorAtNight: r.DoorAtNight, BedExit: uint64(r.BedExit / time.Second),
		LowTemp: lowTemp, LowTempFor: uint64(r.LowTemperatureFor / time.Second),
		LowBattery: uint64(r.LowBattery), SilentFactor: uint64(r.SilentFactor), Absence: absence,
	}
	for _, d := range c.Devices {
		wd := wireDevice{Device: string(d.Device), Technology: uint64(d.Technology), Zigbee: d.Zigbee,
			ReportEvery: uint64(d.ReportEvery / time.Second), PanicOnPress: d.PanicOnPress}
		if len(d.Fields) > 0 {
			wd.Fields = make(map[string]uint64, len(d.Fields))
			for f, k := range d.Fields {
				wd.Fields[f] = uint64(k)
			}
		}
		w.Devices = append(w.Devices, wd)
	}
	for _, d := range r.Medication {
		w.Medication = append(w.Medication, wireDose{Dose: uint64(d.Dose), From: uint64(d.From), To: uint64(d.To)})
	}
	out, err := encMode.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if len(out) > MaxConfigBytes {
		return nil, fmt.Errorf("encode config: %w: %d bytes, at most %d", ErrTooLarge, len(out), MaxConfigBytes)
	}
	return out, nil
}

// DecodeConfig decodes and validates an untrusted home configuration.
func DecodeConfig(data []byte) (HomeConfig, error) {
	c, err := decodeConfig(data)
	if err != nil {
		return HomeConfig{}, fmt.Errorf("decode config: %w", err)
	}
	return c, nil
}

// Bounds that keep the conversions below exact; Validate checks the real ranges.
const (
	maxWireSeconds = uint64(7 * 24 * time.Hour / time.Second)
	maxWireMinute  = 1439
)

func decodeConfig(data []byte) (HomeConfig, error) {
	var w wireConfig
	if err := unmarshal(configDecMode, data, MaxConfigBytes, &w); err != nil {
		return HomeConfig{}, err
	}
	if err := checkConfigVersion(w.Version, w.Absence != nil); err != nil {
		return HomeConfig{}, err
	}
	if w.Config == 0 {
		return HomeConfig{}, fmt.Errorf("%w: config version (key 2)", ErrMissingField)
	}
	if w.Municipality > 0xffff {
		return HomeConfig{}, fmt.Errorf("%w: %d", ErrUnknownMunicipality, w.Municipality)
	}
	for _, s := range []uint64{w.Inactivity, w.BedExit, w.LowTempFor} {
		if s > maxWireSeconds {
			return HomeConfig{}, fmt.Errorf("%w: a duration of %d s", ErrOutOfRange, s)
		}
	}
	if w.LowBattery > 100 || w.SilentFactor > 100 {
		return HomeConfig{}, fmt.Errorf("%w: low battery %d, silent factor %d", ErrOutOfRange, w.LowBattery, w.SilentFactor)
	}
	lowTemp, err := KindTemperature.FromWire(w.LowTemp)
	if err != nil {
		return HomeConfig{}, fmt.Errorf("low temperature: %w", err)
	}
	c := HomeConfig{
		Gateway: GatewayID(w.Gateway), Version: w.Config, Municipality: MunicipalityCode(w.Municipality), TimeZone: w.TimeZone,
		Rules: RuleSettings{
			Inactivity: time.Duration(w.Inactivity) * time.Second, DoorAtNight: w.DoorAtNight,
			BedExit: time.Duration(w.BedExit) * time.Second, LowTemperature: lowTemp,
			LowTemperatureFor: time.Duration(w.LowTempFor) * time.Second,
			LowBattery:        int(w.LowBattery), SilentFactor: int(w.SilentFactor),
		},
	}
	for _, p := range []struct {
		w  *wireWindow
		to *Window
	}{{w.Night, &c.Rules.Night}, {w.Day, &c.Rules.Day}} {
		if p.w == nil {
			continue
		}
		if p.w.From > maxWireMinute || p.w.To > maxWireMinute {
			return HomeConfig{}, fmt.Errorf("%w: window %d-%d", ErrOutOfRange, p.w.From, p.w.To)
		}
		*p.to = Window{From: TimeOfDay(p.w.From), To: TimeOfDay(p.w.To)}
	}
	for i, d := range w.Devices {
		if d.Technology > 0xff || d.ReportEvery > maxWireSeconds {
			return HomeConfig{}, fmt.Errorf("device %d: %w: technology or report interval", i, ErrOutOfRange)
		}
		dc := DeviceConfig{Device: DeviceID(d.Device), Technology: Technology(d.Technology), Zigbee: d.Zigbee,
			ReportEvery: time.Duration(d.ReportEvery) * time.Second, PanicOnPress: d.PanicOnPress}
		if len(d.Fields) > 0 {
			dc.Fields = make(map[string]Kind, len(d.Fields))
			for f, k := range d.Fields {
				if k > 0xff {
					return HomeConfig{}, fmt.Errorf("device %d: field %q: %w: %d", i, clip(f), ErrUnknownKind, k)
				}
				dc.Fields[f] = Kind(k)
			}
		}
		c.Devices = append(c.Devices, dc)
	}
	if a := w.Absence; a != nil {
		for _, t := range []uint64{a.From, a.Until} {
			if t > uint64(maxTime.UnixMilli()) {
				return HomeConfig{}, fmt.Errorf("%w: absence time %d", ErrOutOfRange, t)
			}
		}
		c.Absence = Absence{From: time.UnixMilli(int64(a.From)).UTC(), Until: time.UnixMilli(int64(a.Until)).UTC()}
	}
	for i, d := range w.Medication {
		if d.Dose > MaxDoses || d.From > maxWireMinute || d.To > maxWireMinute {
			return HomeConfig{}, fmt.Errorf("dose %d: %w", i, ErrOutOfRange)
		}
		c.Rules.Medication = append(c.Rules.Medication, DoseWindow{Dose: int(d.Dose), Window: Window{From: TimeOfDay(d.From), To: TimeOfDay(d.To)}})
	}
	if err := c.Validate(); err != nil {
		return HomeConfig{}, err
	}
	return c, nil
}

// checkConfigVersion: version 1 has no key 16; version 2 is version 1 with key 16, which it
// must carry (a version 2 without it would be a second encoding of a version 1 message).
func checkConfigVersion(v *uint64, hasAbsence bool) error {
	if v == nil || *v != ConfigVersionAbsence {
		if err := checkVersion(v); err != nil {
			return err
		}
		if hasAbsence {
			return fmt.Errorf("%w: key 16 (absence), which version 1 does not define", ErrUnknownField)
		}
		return nil
	}
	if !hasAbsence {
		return fmt.Errorf("%w: absence (key 16), which version 2 requires", ErrMissingField)
	}
	return nil
}
