// Package roster is a district's duty roster ("vagtplan"): its shifts (day, evening, night,
// by weekday, in Danish local time), who is on each, the backup ("bagvagt") for each, and the
// municipality's central on-call. It answers who is on duty at an instant, which is what
// escalation widens an alert's audience by (docs/alerts.md, "Rosters and escalation"). Of the
// api it imports only the vocabulary (package api); the store and the HTTP layer use it.
package roster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Kind is the kind of a shift.
type Kind string

// The kinds of shift Danish home care runs.
const (
	Day     Kind = "day"
	Evening Kind = "evening"
	Night   Kind = "night"
)

// Limits on one roster, so a request cannot make the store or the duty lookup large.
const (
	MaxShifts        = 64
	MaxStaffPerShift = 64
	MaxNameLen       = 128
)

// Backup is who takes a shift's alerts when nobody on it acknowledges: a person (User) or a
// team, the staff on duty in another district (District). At most one is set.
type Backup struct {
	User     string `json:"user,omitempty"`
	District int64  `json:"district,omitempty"`
}

// IsZero reports whether no backup is set.
func (b Backup) IsZero() bool { return b.User == "" && b.District == 0 }

// Shift is a span of local time on some weekdays and the staff on it. End at or before
// Start means the shift ends the next day (22:00–07:00 spans midnight); times are wall
// clock in Europe/Copenhagen, so a night shift across a change to or from summer time is
// an hour shorter or longer, as the staff work it.
type Shift struct {
	Kind     Kind     `json:"kind"`
	Weekdays []string `json:"weekdays"` // "mon" … "sun"
	Start    string   `json:"start"`    // "HH:MM"
	End      string   `json:"end"`      // "HH:MM"
	Staff    []string `json:"staff"`    // user names
	Backup   Backup   `json:"backup"`
}

// Roster is one district's shifts.
type Roster struct {
	District     int64                 `json:"district"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	Shifts       []Shift               `json:"shifts"`
	UpdatedAt    *time.Time            `json:"updated_at,omitempty"`
	UpdatedBy    string                `json:"updated_by,omitempty"`
}

var weekdays = map[string]time.Weekday{"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday}

// Weekdays lists every day, for a shift that runs all week.
var Weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// clock parses "HH:MM" into minutes after midnight.
func clock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, false
	}
	return hh*60 + mm, true
}

// span is a shift's minutes: start and length, after midnight of its first day.
func (s Shift) span() (start, length int, ok bool) {
	a, ok1 := clock(s.Start)
	b, ok2 := clock(s.End)
	if !ok1 || !ok2 || a == b { // an empty shift covers nothing (and is refused)
		return 0, 0, false
	}
	if b <= a {
		b += 24 * 60
	}
	return a, b - a, true
}

const week = 7 * 24 * 60

// weekSpans are a shift's spans as minutes of the week from Monday 00:00 (wall clock).
func (s Shift) weekSpans() [][2]int {
	start, length, ok := s.span()
	if !ok {
		return nil
	}
	var out [][2]int
	for _, d := range s.Weekdays {
		wd, ok := weekdays[d]
		if !ok {
			continue
		}
		day := (int(wd) + 6) % 7 // Monday 0
		out = append(out, [2]int{day*24*60 + start, day*24*60 + start + length})
	}
	return out
}

func overlaps(a, b [2]int) bool {
	// A span may run past Sunday midnight into Monday: compare it shifted a week too.
	for _, shift := range []int{-week, 0, week} {
		if a[0] < b[1]+shift && b[0]+shift < a[1] {
			return true
		}
	}
	return false
}

// Validate checks a roster's shifts (an api.FieldErrors naming every fault): known kind, weekdays and times, not empty (start equal
// to end), a backup that is a person or a team but not both and not the district itself, no
// name twice, and no two shifts that overlap. A shift with nobody on it is valid (Warnings).
func (r Roster) Validate() error {
	var errs api.FieldErrors
	bad := func(field, format string, args ...any) {
		errs = append(errs, api.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if len(r.Shifts) > MaxShifts {
		bad("shifts", "%d shifts, at most %d", len(r.Shifts), MaxShifts)
		return errs
	}
	for i, s := range r.Shifts {
		f := fmt.Sprintf("shifts[%d]", i)
		switch s.Kind {
		case Day, Evening, Night:
		default:
			bad(f+".kind", "%q is not day, evening or night", s.Kind)
		}
		if len(s.Weekdays) == 0 {
			bad(f+".weekdays", "a shift needs at least one weekday")
		}
		seen := map[string]bool{}
		for j, d := range s.Weekdays {
			if _, ok := weekdays[d]; !ok {
				bad(fmt.Sprintf("%s.weekdays[%d]", f, j), "%q is not mon, tue, wed, thu, fri, sat or sun", d)
			} else if seen[d] {
				bad(fmt.Sprintf("%s.weekdays[%d]", f, j), "%q twice", d)
			}
			seen[d] = true
		}
		a, okA := clock(s.Start)
		b, okB := clock(s.End)
		if !okA {
			bad(f+".start", "%q is not a time HH:MM", s.Start)
		}
		if !okB {
			bad(f+".end", "%q is not a time HH:MM", s.End)
		}
		if okA && okB && a == b {
			bad(f+".end", "the shift is empty: it ends when it starts (%s)", s.Start)
		}
		if len(s.Staff) > MaxStaffPerShift {
			bad(f+".staff", "%d people, at most %d", len(s.Staff), MaxStaffPerShift)
		}
		names := map[string]bool{}
		for j, n := range s.Staff {
			if n == "" || len(n) > MaxNameLen {
				bad(fmt.Sprintf("%s.staff[%d]", f, j), "a user name is 1-%d bytes", MaxNameLen)
			} else if names[n] {
				bad(fmt.Sprintf("%s.staff[%d]", f, j), "%q twice", n)
			}
			names[n] = true
		}
		switch {
		case s.Backup.User != "" && s.Backup.District != 0:
			bad(f+".backup", "a backup is a person or a team, not both")
		case len(s.Backup.User) > MaxNameLen:
			bad(f+".backup.user", "a user name is at most %d bytes", MaxNameLen)
		case s.Backup.District < 0:
			bad(f+".backup.district", "no district %d", s.Backup.District)
		case s.Backup.District != 0 && s.Backup.District == r.District:
			bad(f+".backup.district", "the backup team must be another district")
		}
	}
	for i := range r.Shifts {
		for j := i + 1; j < len(r.Shifts); j++ {
			if shiftsOverlap(r.Shifts[i], r.Shifts[j]) {
				bad(fmt.Sprintf("shifts[%d]", j), "overlaps shifts[%d] (%s %s–%s)", i, r.Shifts[i].Kind, r.Shifts[i].Start, r.Shifts[i].End)
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func shiftsOverlap(a, b Shift) bool {
	for _, x := range a.weekSpans() {
		for _, y := range b.weekSpans() {
			if overlaps(x, y) {
				return true
			}
		}
	}
	return false
}

// Warning is something a valid roster leaves open: a shift with nobody on it (its alerts
// go to the backup at once), a shift without a backup (they go to central at once).
type Warning struct {
	Shift  int    `json:"shift"`
	Code   string `json:"code"` // "no_staff", "no_backup"
	Reason string `json:"reason"`
}

// Warnings lists what a valid roster leaves open.
func (r Roster) Warnings() []Warning {
	out := []Warning{}
	for i, s := range r.Shifts {
		if len(s.Staff) == 0 {
			out = append(out, Warning{Shift: i, Code: "no_staff", Reason: "nobody is on this shift: its alerts escalate at once"})
		}
		if s.Backup.IsZero() {
			out = append(out, Warning{Shift: i, Code: "no_backup", Reason: "no backup: unanswered alerts go straight to central on-call"})
		}
	}
	return out
}

// Duty is the shift on duty at an instant, with when it started and ends.
type Duty struct {
	Index int       `json:"shift"`
	Shift Shift     `json:"-"`
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// OnDuty returns the shift on duty at t (Europe/Copenhagen wall clock), false when no
// shift covers t. A shift that started yesterday evening and runs past midnight covers the
// small hours of today.
func (r Roster) OnDuty(t time.Time) (Duty, bool) {
	local := t.In(vagt.Copenhagen)
	y, m, d := local.Date()
	for i, s := range r.Shifts {
		start, length, ok := s.span()
		if !ok {
			continue
		}
		for _, back := range []int{0, -1} {
			day := time.Date(y, m, d+back, 0, 0, 0, 0, vagt.Copenhagen)
			if !slices.ContainsFunc(s.Weekdays, func(w string) bool { return weekdays[w] == day.Weekday() }) {
				continue
			}
			// Wall clock: time.Date in the zone, so 22:00–07:00 across a change of summer
			// time is 8 or 10 hours long, and 07:00 is 07:00 either way.
			from := time.Date(y, m, d+back, start/60, start%60, 0, 0, vagt.Copenhagen)
			end := start + length
			until := time.Date(y, m, d+back+end/(24*60), (end%(24*60))/60, end%60, 0, 0, vagt.Copenhagen)
			if !t.Before(from) && t.Before(until) {
				return Duty{Index: i, Shift: s, From: from, Until: until}, true
			}
		}
	}
	return Duty{}, false
}

// Board is who receives a municipality's alerts at an instant, tier by tier.
type Board struct {
	At           time.Time             `json:"at"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	Districts    []DistrictDuty        `json:"districts"`
	Central      []string              `json:"central"` // the municipality's central on-call
}

// DistrictDuty is who is on duty in one district at an instant.
type DistrictDuty struct {
	District int64  `json:"district"`
	Name     string `json:"name"`
	// Shift is the shift on duty; nil when no shift covers the instant or the district has
	// no roster: its alerts escalate at once.
	Shift       *ShiftOnDuty `json:"shift"`
	Staff       []string     `json:"staff"`
	Backup      Backup       `json:"backup"`
	BackupStaff []string     `json:"backup_staff"` // a team backup's shift on duty
}

// ShiftOnDuty is a shift of the roster (by index) and when it started and ends.
type ShiftOnDuty struct {
	Index int       `json:"index"`
	Kind  Kind      `json:"kind"`
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// DayAndNight is a plain roster for every day of the week: a day shift 07:00–19:00 and a
// night shift 19:00–07:00, with their staff and one backup (the demo and test worlds).
func DayAndNight(day, night []string, backup Backup) []Shift {
	return []Shift{
		{Kind: Day, Weekdays: Weekdays, Start: "07:00", End: "19:00", Staff: day, Backup: backup},
		{Kind: Night, Weekdays: Weekdays, Start: "19:00", End: "07:00", Staff: night, Backup: backup},
	}
}
