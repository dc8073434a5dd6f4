package vagt

import (
	"fmt"
	"time"
)

// Absence is a period the citizen is away from home (in hospital, on holiday). The rules
// that watch the citizen's own routine are silent then, since an empty home looks like an
// inactive citizen; the rules that watch for danger (panic, fall, smoke, water) never are.
// The zero Absence is none.
type Absence struct {
	From  time.Time // inclusive
	Until time.Time // exclusive
}

// MaxAbsence bounds one absence: a longer one is a typo, not a stay.
const MaxAbsence = 366 * 24 * time.Hour

// IsZero reports whether there is no absence.
func (a Absence) IsZero() bool { return a.From.IsZero() && a.Until.IsZero() }

// Contains reports whether t is within the absence.
func (a Absence) Contains(t time.Time) bool {
	return !a.IsZero() && !t.Before(a.From) && t.Before(a.Until)
}

// Validate checks an absence against the wire's ranges.
func (a Absence) Validate() error {
	if a.IsZero() {
		return nil
	}
	if err := validTime(a.From); err != nil {
		return fmt.Errorf("absence from: %w", err)
	}
	if err := validTime(a.Until); err != nil {
		return fmt.Errorf("absence until: %w", err)
	}
	if !a.Until.After(a.From) || a.Until.Sub(a.From) > MaxAbsence {
		return fmt.Errorf("%w: absence %s .. %s: until must follow from, within %d days", ErrOutOfRange,
			a.From.UTC().Format(time.RFC3339), a.Until.UTC().Format(time.RFC3339), int(MaxAbsence.Hours()/24))
	}
	return nil
}

// SilencedByAbsence reports whether an absence silences the alarm type: the rules about the
// citizen's routine (inactivity, door at night, bed exit, missed medication). Danger and
// technical alarms are never silenced.
func (t AlarmType) SilencedByAbsence() bool {
	switch t {
	case AlarmInactivity, AlarmDoorAtNight, AlarmBedExit, AlarmMissedMedication:
		return true
	}
	return false
}
