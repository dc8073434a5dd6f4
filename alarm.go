package vagt

import (
	"fmt"
	"time"
)

// Priority orders alarms: a lower number is more urgent.
type Priority uint8

// The priorities.
const (
	PriorityCritical  Priority = 1 // a life may be at stake: panic, fall, smoke
	PriorityHigh      Priority = 2 // a citizen may need help soon
	PriorityTechnical Priority = 3 // the protection itself is failing
)

var priorityNames = [...]string{PriorityCritical: "critical", PriorityHigh: "high", PriorityTechnical: "technical"}

// Validate reports whether p is a known priority.
func (p Priority) Validate() error {
	if p < PriorityCritical || p > PriorityTechnical {
		return fmt.Errorf("%w: %d", ErrUnknownPriority, uint8(p))
	}
	return nil
}

// String returns "critical", "high" or "technical".
func (p Priority) String() string {
	if p.Validate() != nil {
		return fmt.Sprintf("priority(%d)", uint8(p))
	}
	return priorityNames[p]
}

// ParsePriority returns the priority with the given name.
func ParsePriority(name string) (Priority, error) {
	for p := PriorityCritical; p <= PriorityTechnical; p++ {
		if priorityNames[p] == name {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownPriority, clip(name))
}

// MarshalText makes a Priority appear by name in JSON.
func (p Priority) MarshalText() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses a priority's name.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	*p = v
	return err
}

// AlarmType is what an alarm is about. The numbers are wire codes: never reuse one.
type AlarmType uint8

// The alarm types.
const (
	AlarmPanic            AlarmType = 1  // the citizen pressed the alarm button
	AlarmFall             AlarmType = 2  // a fall detector detected a fall
	AlarmSmoke            AlarmType = 3  // a smoke alarm went off
	AlarmDoorAtNight      AlarmType = 4  // the front door opened during the night window
	AlarmBedExit          AlarmType = 5  // out of bed at night and not back in time
	AlarmInactivity       AlarmType = 6  // no activity for too long in the daytime window
	AlarmWaterLeak        AlarmType = 7  // a water alarm detected water
	AlarmLowTemperature   AlarmType = 8  // the home has been too cold for too long
	AlarmMissedMedication AlarmType = 9  // a dose was not taken within its window
	AlarmLowBattery       AlarmType = 10 // a device's battery is low
	AlarmSilentDevice     AlarmType = 11 // a device stopped reporting
	AlarmGatewayOffline   AlarmType = 12 // the gateway stopped reporting (raised by the platform)
	AlarmTamper           AlarmType = 13 // a device was opened or removed
	AlarmUnknownDevice    AlarmType = 14 // a device not in the home's device map sends alarms (forwarded all the same)
	// Raised by the platform's night supervision (docs/night-supervision.md), never by a
	// gateway; 20 and up leave room for other platform types.
	AlarmNightVisit       AlarmType = 20 // night staff judged from the sensors that a visit is needed
	AlarmNightCheckMissed AlarmType = 21 // a night check was not made within its window
	// AlarmLeftSafeZone: a GPS tracker's citizen left every safe zone (raised by the
	// platform, api/gps, never by a gateway).
	AlarmLeftSafeZone AlarmType = 22
)

// AlarmTypeInfo describes an alarm type: its stable name and default priority.
type AlarmTypeInfo struct {
	Type     AlarmType
	Name     string
	Priority Priority
}

var alarmTypes = [...]AlarmTypeInfo{
	AlarmPanic:            {AlarmPanic, "panic", PriorityCritical},
	AlarmFall:             {AlarmFall, "fall", PriorityCritical},
	AlarmSmoke:            {AlarmSmoke, "smoke", PriorityCritical},
	AlarmDoorAtNight:      {AlarmDoorAtNight, "door_at_night", PriorityHigh},
	AlarmBedExit:          {AlarmBedExit, "bed_exit", PriorityHigh},
	AlarmInactivity:       {AlarmInactivity, "inactivity", PriorityHigh},
	AlarmWaterLeak:        {AlarmWaterLeak, "water_leak", PriorityHigh},
	AlarmLowTemperature:   {AlarmLowTemperature, "low_temperature", PriorityHigh},
	AlarmMissedMedication: {AlarmMissedMedication, "missed_medication", PriorityHigh},
	AlarmLowBattery:       {AlarmLowBattery, "low_battery", PriorityTechnical},
	AlarmSilentDevice:     {AlarmSilentDevice, "silent_device", PriorityTechnical},
	AlarmGatewayOffline:   {AlarmGatewayOffline, "gateway_offline", PriorityTechnical},
	AlarmTamper:           {AlarmTamper, "tamper", PriorityTechnical},
	AlarmUnknownDevice:    {AlarmUnknownDevice, "unknown_device", PriorityTechnical},
	AlarmNightVisit:       {AlarmNightVisit, "night_visit", PriorityHigh},
	AlarmNightCheckMissed: {AlarmNightCheckMissed, "night_check_missed", PriorityHigh},
	AlarmLeftSafeZone:     {AlarmLeftSafeZone, "left_safe_zone", PriorityHigh},
}

// AlarmTypes returns every alarm type in code order.
func AlarmTypes() []AlarmTypeInfo {
	out := make([]AlarmTypeInfo, 0, len(alarmTypes))
	for _, a := range alarmTypes {
		if a.Type != 0 {
			out = append(out, a)
		}
	}
	return out
}

// Info returns the alarm type's description, and false for an unknown code.
func (t AlarmType) Info() (AlarmTypeInfo, bool) {
	if int(t) >= len(alarmTypes) || alarmTypes[t].Type == 0 {
		return AlarmTypeInfo{}, false
	}
	return alarmTypes[t], true
}

// Validate reports whether t is a known alarm type.
func (t AlarmType) Validate() error {
	if _, ok := t.Info(); !ok {
		return fmt.Errorf("%w: %d", ErrUnknownAlarmType, uint8(t))
	}
	return nil
}

// Priority returns the type's default priority (0 for an unknown type).
func (t AlarmType) Priority() Priority {
	i, _ := t.Info()
	return i.Priority
}

// String returns the type's stable name ("door_at_night").
func (t AlarmType) String() string {
	if i, ok := t.Info(); ok {
		return i.Name
	}
	return fmt.Sprintf("alarm_type(%d)", uint8(t))
}

// ParseAlarmType returns the alarm type with the given name.
func ParseAlarmType(name string) (AlarmType, error) {
	for _, i := range alarmTypes {
		if i.Type != 0 && i.Name == name {
			return i.Type, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownAlarmType, clip(name))
}

// MarshalText makes an AlarmType appear by name in JSON.
func (t AlarmType) MarshalText() ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses an alarm type's name.
func (t *AlarmType) UnmarshalText(b []byte) error {
	v, err := ParseAlarmType(string(b))
	*t = v
	return err
}

// Alarm is an alarm event from a gateway: raised, or (when Clears is set) the end of the
// condition that an earlier event raised. The gateway id and Seq identify it: a redelivered
// event carries the same pair and must not become a second alert.
type Alarm struct {
	Gateway      GatewayID
	Seq          uint64 // unique per gateway, never reused, survives restarts
	Municipality MunicipalityCode
	Time         time.Time // when the condition was detected, millisecond precision
	Device       DeviceID  // for an alarm about the gateway itself, the gateway's id
	Type         AlarmType
	Priority     Priority
	Clears       uint64            // 0 for a raise; else the Seq of the raise this event clears
	Details      map[string]string // optional, small: e.g. {"temperature": "14.5"}
}

// Limits on an alarm's details, so an alarm stays small on a 4G link and in the store.
const (
	MaxAlarmDetails     = 16
	MaxAlarmDetailKey   = 32
	MaxAlarmDetailValue = 256
)

// Validate checks every field of the alarm.
func (a *Alarm) Validate() error {
	if err := a.Gateway.Validate(); err != nil {
		return err
	}
	if err := validSeq("event seq", a.Seq); err != nil {
		return err
	}
	if err := a.Municipality.Validate(); err != nil {
		return err
	}
	if err := validTime(a.Time); err != nil {
		return fmt.Errorf("alarm time: %w", err)
	}
	if err := a.Device.Validate(); err != nil {
		return err
	}
	if err := a.Type.Validate(); err != nil {
		return err
	}
	if err := a.Priority.Validate(); err != nil {
		return err
	}
	// A gateway may raise a type's priority, never lower it: a fall sorted below
	// low-battery noise on the staff's screen could cost a life.
	if a.Priority > a.Type.Priority() {
		return fmt.Errorf("%w: priority %s is below %s's %s", ErrOutOfRange, a.Priority, a.Type, a.Type.Priority())
	}
	if a.Clears >= a.Seq && a.Clears != 0 {
		return fmt.Errorf("%w: clears seq %d is not before event seq %d", ErrOutOfRange, a.Clears, a.Seq)
	}
	if len(a.Details) > MaxAlarmDetails {
		return fmt.Errorf("%w: %d details, at most %d", ErrTooLarge, len(a.Details), MaxAlarmDetails)
	}
	for k, v := range a.Details {
		if k == "" || validText("detail key", k, MaxAlarmDetailKey) != nil || validText("detail value", v, MaxAlarmDetailValue) != nil {
			return fmt.Errorf("%w: detail %q: key 1-%d bytes, value at most %d bytes, both UTF-8", ErrOutOfRange, clip(k), MaxAlarmDetailKey, MaxAlarmDetailValue)
		}
	}
	return nil
}
