package vagt

import "fmt"

// Technology is a category of welfare technology as Danish municipalities count them in
// their rollout statistics. The numbers are wire and storage codes: never reuse one.
type Technology uint8

// The technology categories.
const (
	TechPersonalAlarm     Technology = 1  // tryghedsalarm
	TechFallDetector      Technology = 2  // faldalarm
	TechDoorSensor        Technology = 3  // dørsensor
	TechBedSensor         Technology = 4  // sengesensor
	TechGPSTracker        Technology = 5  // GPS-tracker
	TechMedicineDispenser Technology = 6  // medicindispenser
	TechNightSupervision  Technology = 7  // digitalt natteilsyn
	TechEnvironmentSensor Technology = 8  // miljøsensor (temperature, humidity, motion)
	TechSmokeAlarm        Technology = 9  // røgalarm
	TechWaterAlarm        Technology = 10 // vandalarm
)

// TechnologyInfo names a technology in English (the stable name used in the API and in
// InfluxDB tags) and in Danish (as the municipalities say it).
type TechnologyInfo struct {
	Technology Technology
	Name       string
	Danish     string
}

var technologies = [...]TechnologyInfo{
	TechPersonalAlarm:     {TechPersonalAlarm, "personal_alarm", "tryghedsalarm"},
	TechFallDetector:      {TechFallDetector, "fall_detector", "faldalarm"},
	TechDoorSensor:        {TechDoorSensor, "door_sensor", "dørsensor"},
	TechBedSensor:         {TechBedSensor, "bed_sensor", "sengesensor"},
	TechGPSTracker:        {TechGPSTracker, "gps_tracker", "GPS-tracker"},
	TechMedicineDispenser: {TechMedicineDispenser, "medicine_dispenser", "medicindispenser"},
	TechNightSupervision:  {TechNightSupervision, "night_supervision", "digitalt natteilsyn"},
	TechEnvironmentSensor: {TechEnvironmentSensor, "environment_sensor", "miljøsensor"},
	TechSmokeAlarm:        {TechSmokeAlarm, "smoke_alarm", "røgalarm"},
	TechWaterAlarm:        {TechWaterAlarm, "water_alarm", "vandalarm"},
}

// Technologies returns every technology in code order.
func Technologies() []TechnologyInfo {
	out := make([]TechnologyInfo, 0, len(technologies))
	for _, t := range technologies {
		if t.Technology != 0 {
			out = append(out, t)
		}
	}
	return out
}

// Info returns the technology's names, and false for an unknown code.
func (t Technology) Info() (TechnologyInfo, bool) {
	if int(t) >= len(technologies) || technologies[t].Technology == 0 {
		return TechnologyInfo{}, false
	}
	return technologies[t], true
}

// Validate reports whether t is a known technology.
func (t Technology) Validate() error {
	if _, ok := t.Info(); !ok {
		return fmt.Errorf("%w: %d", ErrUnknownTechnology, uint8(t))
	}
	return nil
}

// String returns the technology's stable name ("medicine_dispenser").
func (t Technology) String() string {
	if i, ok := t.Info(); ok {
		return i.Name
	}
	return fmt.Sprintf("technology(%d)", uint8(t))
}

// ParseTechnology returns the technology with the given stable name.
func ParseTechnology(name string) (Technology, error) {
	for _, i := range technologies {
		if i.Technology != 0 && i.Name == name {
			return i.Technology, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownTechnology, clip(name))
}

// MarshalText makes a Technology appear by name in JSON.
func (t Technology) MarshalText() ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses a technology's name.
func (t *Technology) UnmarshalText(b []byte) error {
	v, err := ParseTechnology(string(b))
	*t = v
	return err
}
