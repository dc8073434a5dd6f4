package api

import "github.com/vagt-dk/vagt"

// Scope is what part of the api's data a caller may see: which municipality and districts
// (alerts, and the personal data behind them).
type Scope struct {
	All          bool                  // every municipality (admin)
	Municipality vagt.MunicipalityCode // the caller's municipality
	// Districts limits the caller to these districts of the municipality; empty means the
	// whole municipality (the municipality's central on-call, a manager). Alerts of
	// unregistered gateways have no district: everybody of the municipality sees them.
	Districts []int64
	// User is the caller's user name: an alert whose audience names it (the shift on duty,
	// the backup, central on-call: audience.go) is in scope too.
	User string
	// Citizen, when set, is a citizen's own login: that citizen's own data and nothing
	// else. Allows is false for every alert and registry object in such a scope; the
	// registry service matches the citizen (Principal.OwnScope).
	Citizen int64
	// Relative, when set, is a relative's login (its user name): the citizen's page of
	// each citizen a grant of this relative names that is live at the read, with the
	// parts it grants, and nothing else. The registry service reads the grants in the
	// transaction of the read, so a grant revoked meanwhile is honoured; Allows is false
	// for every alert and registry object (Principal.RelativeScope).
	Relative string
}

// Allows reports whether an alert of that municipality and district is in the scope.
func (s Scope) Allows(m vagt.MunicipalityCode, district int64) bool {
	if s.All {
		return true
	}
	if s.Citizen != 0 || s.Relative != "" || m != s.Municipality {
		return false
	}
	if len(s.Districts) == 0 || district == 0 {
		return true
	}
	for _, d := range s.Districts {
		if d == district {
			return true
		}
	}
	return false
}
