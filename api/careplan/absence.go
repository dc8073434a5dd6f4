package careplan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Absence is a period the citizen is away ("away until": in hospital, on holiday). The
// gateway silences the routine rules (inactivity, door at night, bed exit, missed
// medication) for it by its own clock, and the platform suppresses those alarms if they
// still arrive; panic, fall, smoke and water are never silenced.
type Absence struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Reason is for the staff, not sent to the gateway: "hospital", "holiday" or "other".
	Reason string `json:"reason,omitempty"`
}

var absenceReasons = map[string]bool{"": true, "hospital": true, "holiday": true, "other": true}

// config returns the gateway's absence; nil is none. Times are kept to the second.
func (a *Absence) config() (vagt.Absence, error) {
	if a == nil {
		return vagt.Absence{}, nil
	}
	if !absenceReasons[a.Reason] {
		return vagt.Absence{}, &api.FieldError{Field: "absence.reason", Reason: fmt.Sprintf("%q: want hospital, holiday or other", a.Reason)}
	}
	if a.From.IsZero() || a.Until.IsZero() {
		return vagt.Absence{}, &api.FieldError{Field: "absence", Reason: "needs from and until (RFC 3339)"}
	}
	c := vagt.Absence{From: a.From.UTC().Truncate(time.Second), Until: a.Until.UTC().Truncate(time.Second)}
	if err := c.Validate(); err != nil {
		return vagt.Absence{}, &api.FieldError{Field: "absence.until", Reason: fmt.Sprintf("until must follow from, within %d days, in 2020-2099", int(vagt.MaxAbsence.Hours()/24))}
	}
	return c, nil
}

// SetAbsence sets the home's absence (nil ends it) as the next version of its care plan,
// which is validated, stored with its history and audit entry (homeconfig.update, "changed
// absence") and pushed to the gateway like any change. A from left zero is now. A home
// without a plan of its own gets one with its registered devices and the defaults.
func (s *Service) SetAbsence(ctx context.Context, scope api.Scope, home vagt.HomeID, a *Absence, actor string) (View, error) {
	v, err := s.View(ctx, scope, home)
	if err != nil {
		return View{}, err
	}
	if a != nil {
		c := *a
		if c.From.IsZero() {
			c.From = s.o.Clock.Now()
		}
		if c.Until.IsZero() || !c.Until.After(s.o.Clock.Now()) {
			return View{}, &api.FieldError{Field: "absence.until", Reason: "until must be in the future"}
		}
		a = &c
	} else if v.Settings.Absence == nil {
		return v, nil // nothing to end
	}
	set := v.Settings
	set.Absence = a
	v, err = s.Update(ctx, scope, home, set, v.Version, actor)
	if errors.Is(err, api.ErrConflict) {
		return View{}, fmt.Errorf("%w: the care plan changed meanwhile; read it and try again", err)
	}
	return v, err
}

// AwayUntil returns when the citizen is back, if the current plan says away at now.
func (v View) AwayUntil(now time.Time) *time.Time {
	a := v.Effective.Absence
	if a == nil || now.Before(a.From) || !now.Before(a.Until) {
		return nil
	}
	u := a.Until
	return &u
}
