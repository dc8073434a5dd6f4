package api

import (
	"slices"

	"github.com/vagt-dk/vagt"
)

// Audience is who an alert reaches beyond the staff whose scope covers its district: each
// escalation tier widens it (docs/alerts.md, "Rosters and escalation"). Level 0 adds the
// shift on duty in the district, level 1 the backup on duty (a person, or a team: another
// district's staff and its shift on duty), level 2 the municipality's central on-call. It is
// written by the store from the duty roster; a missing roster adds nobody, so the district's
// staff still see the alert and it escalates at once (nobody on the tier is listening).
type Audience struct {
	Users     []string `json:"users,omitempty"`     // user names
	Districts []int64  `json:"districts,omitempty"` // backup teams: staff of these districts
}

// IsZero reports whether the audience adds nobody.
func (a Audience) IsZero() bool { return len(a.Users) == 0 && len(a.Districts) == 0 }

// Reaches reports whether the scope sees an alert of municipality m and district that
// reached audience: its district scope allows it, or the audience names the caller or one
// of the caller's districts. The audience never crosses a municipality.
func (s Scope) Reaches(m vagt.MunicipalityCode, district int64, aud Audience) bool {
	if s.Allows(m, district) {
		return true
	}
	if m != s.Municipality || aud.IsZero() {
		return false
	}
	if s.User != "" && slices.Contains(aud.Users, s.User) {
		return true
	}
	for _, d := range s.Districts {
		if slices.Contains(aud.Districts, d) {
			return true
		}
	}
	return false
}
