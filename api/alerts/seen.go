package alerts

import (
	"fmt"
	"time"

	"github.com/vagt-dk/vagt/api"
)

// Seen is what a member of staff saw of an alert when they decided on it: how many presses
// it held (its Count). A resolve names it, so that a press folded into the alert since (a
// repeat, or a press that re-armed it) is not closed by a decision made before it: the
// citizen may have pressed again because something is now wrong.
//
// Count is enough: every press folded into an alert adds one to it (also the one that
// re-arms it), and nothing else changes it or takes from it. A step of staff (a note, an
// escalation, a colleague's acknowledgement) is no press and leaves it as it was.
type Seen struct {
	Count int `json:"count"`
}

// Check says whether a is still as seen: nil, a *StaleError when presses folded into it
// since, or ErrInvalid when s claims presses the alert never had.
func (s Seen) Check(a Alert) error {
	switch {
	case s.Count < 1:
		return &api.FieldError{Field: "seen.count", Reason: "required: the alert's count of presses as you saw it (1 or more)"}
	case a.Count > s.Count:
		return &StaleError{Alert: a.ID, Seen: s.Count, Count: a.Count, LastAt: a.LastAt}
	case a.Count < s.Count:
		return &api.FieldError{Field: "seen.count", Reason: fmt.Sprintf("alert %d has %d presses, not %d", a.ID, a.Count, s.Count)}
	}
	return nil
}

// StaleError says that presses folded into an alert since the caller read it: the caller
// must read it again and decide on what it is now. It is a conflict (409, code "stale").
type StaleError struct {
	Alert  int64
	Seen   int       // the count the caller saw
	Count  int       // the count now
	LastAt time.Time // the latest press
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("alert %d: %d new press(es) since you looked (you saw %d, now %d, the latest at %s): read it again",
		e.Alert, e.Count-e.Seen, e.Seen, e.Count, e.LastAt.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, api.ErrConflict) true.
func (e *StaleError) Unwrap() error { return api.ErrConflict }
