package careplan

import (
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
)

// Defaults returns the rule settings a home of the municipality with devices of the given
// technologies runs until staff set its plan: every rule its devices can serve is on, so a
// newly installed home is protected from the first minute. The values follow common
// practice in Danish home care; a municipality with other practice gets an entry in
// municipalDefaults.
func Defaults(mun vagt.MunicipalityCode, techs []vagt.Technology) Rules {
	has := func(t vagt.Technology) bool { return slices.Contains(techs, t) }
	r := Rules{
		Night: ptr("22:00-07:00"), Day: ptr("07:00-22:00"),
		Inactivity: ptr(Duration(0)), DoorAtNight: ptr(false), BedExit: ptr(Duration(0)),
		LowTemperature: ptr(0.0), LowTemperatureFor: ptr(Duration(0)), Medication: &[]Dose{},
		LowBattery: ptr(20), SilentFactor: ptr(3),
	}
	if has(vagt.TechDoorSensor) {
		r.DoorAtNight = ptr(true)
	}
	if has(vagt.TechBedSensor) {
		r.BedExit = ptr(Duration(30 * time.Minute))
	}
	if has(vagt.TechEnvironmentSensor) {
		r.Inactivity = ptr(Duration(6 * time.Hour))
		r.LowTemperature, r.LowTemperatureFor = ptr(16.0), ptr(Duration(2*time.Hour))
	}
	if has(vagt.TechMedicineDispenser) {
		r.Medication = &[]Dose{{1, "08:00-10:00"}, {2, "12:00-14:00"}, {3, "17:00-19:00"}, {4, "21:00-23:00"}}
	}
	if f := municipalDefaults[mun]; f != nil {
		f(&r, techs)
	}
	return r
}

// municipalDefaults adjust Defaults for a municipality whose practice differs.
var municipalDefaults = map[vagt.MunicipalityCode]func(*Rules, []vagt.Technology){}

// deviceDefaults are a device's reporting interval (watched for silence) and whether every
// press of its button is a panic, by technology.
func deviceDefaults(t vagt.Technology) (time.Duration, bool) {
	switch t {
	case vagt.TechPersonalAlarm, vagt.TechFallDetector:
		return time.Hour, true // the base unit's hourly heartbeat; a pendant's one button means help
	case vagt.TechSmokeAlarm, vagt.TechWaterAlarm:
		return 6 * time.Hour, false
	}
	return 0, false
}
