package vagt

import (
	"fmt"
	"time"
)

// wireAlarm is an alarm event on the wire (docs/wire.md, "alarm").
type wireAlarm struct {
	Version      *uint64           `cbor:"0,keyasint"`
	Gateway      string            `cbor:"1,keyasint"`
	Seq          uint64            `cbor:"2,keyasint"`
	Municipality uint64            `cbor:"3,keyasint"`
	Time         uint64            `cbor:"4,keyasint"` // Unix ms
	Device       string            `cbor:"5,keyasint"`
	Type         uint64            `cbor:"6,keyasint"`
	Priority     uint64            `cbor:"7,keyasint"`
	Details      map[string]string `cbor:"8,keyasint,omitempty"`
	Clears       *uint64           `cbor:"9,keyasint,omitempty"`
}

// EncodeAlarm returns the alarm in canonical form, validating it first.
func EncodeAlarm(a *Alarm) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("encode alarm: %w", err)
	}
	v := uint64(WireVersion)
	out, err := encMode.Marshal(&wireAlarm{
		Version:      &v,
		Gateway:      string(a.Gateway),
		Seq:          a.Seq,
		Municipality: uint64(a.Municipality),
		Time:         uint64(a.Time.UnixMilli()),
		Device:       string(a.Device),
		Type:         uint64(a.Type),
		Priority:     uint64(a.Priority),
		Details:      a.Details,
		Clears:       optional(a.Clears),
	})
	if err != nil {
		return nil, fmt.Errorf("encode alarm: %w", err)
	}
	if len(out) > MaxAlarmBytes {
		return nil, fmt.Errorf("encode alarm: %w: %d bytes, at most %d", ErrTooLarge, len(out), MaxAlarmBytes)
	}
	return out, nil
}

// optional returns nil for 0, so an optional key is left out.
func optional(v uint64) *uint64 {
	if v == 0 {
		return nil
	}
	return &v
}

// DecodeAlarm decodes and validates an untrusted alarm event.
func DecodeAlarm(data []byte) (Alarm, error) {
	var w wireAlarm
	if err := unmarshal(alarmDecMode, data, MaxAlarmBytes, &w); err != nil {
		return Alarm{}, fmt.Errorf("decode alarm: %w", err)
	}
	if err := checkVersion(w.Version); err != nil {
		return Alarm{}, fmt.Errorf("decode alarm: %w", err)
	}
	for _, f := range []struct {
		v   uint64
		max uint64
		err error
	}{{w.Municipality, 0xffff, ErrUnknownMunicipality}, {w.Type, 0xff, ErrUnknownAlarmType}, {w.Priority, 0xff, ErrUnknownPriority}, {w.Time, uint64(maxTime.UnixMilli()), ErrOutOfRange}} {
		if f.v > f.max {
			return Alarm{}, fmt.Errorf("decode alarm: %w: %d", f.err, f.v)
		}
	}
	// Canonical form leaves these out; present but empty they are no form at all.
	if w.Details != nil && len(w.Details) == 0 {
		return Alarm{}, fmt.Errorf("decode alarm: %w: details (key 8) present but empty", ErrMalformed)
	}
	if w.Clears != nil && *w.Clears == 0 {
		return Alarm{}, fmt.Errorf("decode alarm: %w: clears (key 9) is 0", ErrOutOfRange)
	}
	a := Alarm{
		Gateway:      GatewayID(w.Gateway),
		Seq:          w.Seq,
		Municipality: MunicipalityCode(w.Municipality),
		Time:         time.UnixMilli(int64(w.Time)).UTC(),
		Device:       DeviceID(w.Device),
		Type:         AlarmType(w.Type),
		Priority:     Priority(w.Priority),
		Details:      w.Details,
	}
	if w.Clears != nil {
		a.Clears = *w.Clears
	}
	if err := a.Validate(); err != nil {
		return Alarm{}, fmt.Errorf("decode alarm: %w", err)
	}
	return a, nil
}
