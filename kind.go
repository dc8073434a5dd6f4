package vagt

import (
	"fmt"
	"math"
)

// Kind is what a reading measures or reports. The numbers are wire codes: never reuse one.
type Kind uint8

// The kinds of reading.
const (
	KindTemperature      Kind = 1  // °C
	KindHumidity         Kind = 2  // %RH
	KindIlluminance      Kind = 3  // lx
	KindMotion           Kind = 4  // 1 while motion is detected
	KindDoorOpen         Kind = 5  // 1 open, 0 closed
	KindBedOccupied      Kind = 6  // 1 in bed, 0 out of bed
	KindWaterLeak        Kind = 7  // 1 water detected
	KindSmoke            Kind = 8  // 1 smoke detected
	KindButtonPress      Kind = 9  // event: a Press value
	KindFall             Kind = 10 // event: 1 a fall was detected
	KindMedicationTaken  Kind = 11 // event: the dose window's number (1-8)
	KindMedicationMissed Kind = 12 // event: the dose window's number (1-8)
	KindBattery          Kind = 13 // %
	KindBatteryLow       Kind = 14 // 1 the device says its battery is low
	KindPower            Kind = 15 // W
	KindLinkQuality      Kind = 16 // 0-255, radio link quality as the device reports it
	KindTamper           Kind = 17 // 1 the casing was opened or the device removed
)

// Press is the value of a KindButtonPress reading.
const (
	PressSingle    = 1
	PressDouble    = 2
	PressHold      = 3
	PressEmergency = 4 // a dedicated SOS/emergency action
)

// ValueType says how a kind's value is to be read.
type ValueType uint8

// The value types.
const (
	ValueDecimal ValueType = iota + 1 // a measurement with a fixed resolution
	ValueInt                          // a whole number
	ValueBool                         // 0 or 1, a state
	ValueEvent                        // something happened; the value qualifies it
)

// KindInfo describes a kind: its name (the tag in InfluxDB), unit, value type and range.
// On the wire a value travels as the integer Value×Scale, so a temperature of 21.37 °C is
// 2137 and costs three bytes, where a float64 would cost nine.
type KindInfo struct {
	Kind  Kind
	Name  string
	Unit  string
	Type  ValueType
	Scale int64   // wire integer per unit: 100 means a resolution of 0.01
	Min   float64 // inclusive
	Max   float64 // inclusive
}

var kinds = [...]KindInfo{
	KindTemperature:      {KindTemperature, "temperature", "°C", ValueDecimal, 100, -50, 100},
	KindHumidity:         {KindHumidity, "humidity", "%RH", ValueDecimal, 10, 0, 100},
	KindIlluminance:      {KindIlluminance, "illuminance", "lx", ValueInt, 1, 0, 200000},
	KindMotion:           {KindMotion, "motion", "", ValueBool, 1, 0, 1},
	KindDoorOpen:         {KindDoorOpen, "door_open", "", ValueBool, 1, 0, 1},
	KindBedOccupied:      {KindBedOccupied, "bed_occupied", "", ValueBool, 1, 0, 1},
	KindWaterLeak:        {KindWaterLeak, "water_leak", "", ValueBool, 1, 0, 1},
	KindSmoke:            {KindSmoke, "smoke", "", ValueBool, 1, 0, 1},
	KindButtonPress:      {KindButtonPress, "button_press", "", ValueEvent, 1, PressSingle, PressEmergency},
	KindFall:             {KindFall, "fall", "", ValueEvent, 1, 1, 1},
	KindMedicationTaken:  {KindMedicationTaken, "medication_taken", "", ValueEvent, 1, 1, 8},
	KindMedicationMissed: {KindMedicationMissed, "medication_missed", "", ValueEvent, 1, 1, 8},
	KindBattery:          {KindBattery, "battery", "%", ValueInt, 1, 0, 100},
	KindBatteryLow:       {KindBatteryLow, "battery_low", "", ValueBool, 1, 0, 1},
	KindPower:            {KindPower, "power", "W", ValueDecimal, 10, 0, 100000},
	KindLinkQuality:      {KindLinkQuality, "link_quality", "", ValueInt, 1, 0, 255},
	KindTamper:           {KindTamper, "tamper", "", ValueBool, 1, 0, 1},
}

// Kinds returns every known kind in code order.
func Kinds() []KindInfo {
	out := make([]KindInfo, 0, len(kinds))
	for _, k := range kinds {
		if k.Kind != 0 {
			out = append(out, k)
		}
	}
	return out
}

// Info returns the kind's description, and false for an unknown kind.
func (k Kind) Info() (KindInfo, bool) {
	if int(k) >= len(kinds) || kinds[k].Kind == 0 {
		return KindInfo{}, false
	}
	return kinds[k], true
}

// Validate reports whether k is a known kind.
func (k Kind) Validate() error {
	if _, ok := k.Info(); !ok {
		return fmt.Errorf("%w: %d", ErrUnknownKind, uint8(k))
	}
	return nil
}

// String returns the kind's name ("temperature"), or "kind(N)" when unknown.
func (k Kind) String() string {
	if i, ok := k.Info(); ok {
		return i.Name
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind returns the kind with the given name.
func ParseKind(name string) (Kind, error) {
	for _, i := range kinds {
		if i.Kind != 0 && i.Name == name {
			return i.Kind, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownKind, clip(name))
}

// MarshalText makes a Kind appear by name in JSON.
func (k Kind) MarshalText() ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return []byte(k.String()), nil
}

// UnmarshalText parses a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// ToWire returns v as the kind's wire integer, checking the kind's range. A decimal value
// is rounded to the kind's resolution.
func (k Kind) ToWire(v float64) (int64, error) {
	i, ok := k.Info()
	if !ok {
		return 0, fmt.Errorf("%w: %d", ErrUnknownKind, uint8(k))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %s %v", ErrOutOfRange, i.Name, v)
	}
	// Round first and check the integer: 100.000001 °C is 100.00 at the kind's resolution,
	// exactly the wire value FromWire accepts.
	s := float64(i.Scale)
	w := math.Round(v * s)
	if w < math.Round(i.Min*s) || w > math.Round(i.Max*s) {
		return 0, fmt.Errorf("%w: %s %v outside [%v, %v]", ErrOutOfRange, i.Name, v, i.Min, i.Max)
	}
	if i.Type != ValueDecimal && w != v*s {
		return 0, fmt.Errorf("%w: %s %v is not a whole number", ErrOutOfRange, i.Name, v)
	}
	return int64(w), nil
}

// FromWire returns the value of the kind's wire integer w, checking the kind's range.
func (k Kind) FromWire(w int64) (float64, error) {
	i, ok := k.Info()
	if !ok {
		return 0, fmt.Errorf("%w: %d", ErrUnknownKind, uint8(k))
	}
	if w < int64(i.Min*float64(i.Scale)) || w > int64(i.Max*float64(i.Scale)) {
		return 0, fmt.Errorf("%w: %s wire value %d outside [%v, %v]×%d", ErrOutOfRange, i.Name, w, i.Min, i.Max, i.Scale)
	}
	return float64(w) / float64(i.Scale), nil
}
