package careplan

import (
	"context"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// HomeState is one home in the overview: does its gateway run the latest version?
type HomeState struct {
	Home vagt.HomeID `json:"home"`
	// Citizen is the name of the home's citizen, so that staff choose a plan by whom it is
	// for (personal data: the overview's read is audited).
	Citizen  string           `json:"citizen,omitempty"`
	Devices  Coverage         `json:"devices"` // how many registered devices the plan covers
	District int64            `json:"district"`
	Version  uint64           `json:"version"`
	State    State            `json:"state"`
	Gateways []GatewayRunning `json:"gateways"`
	// AwayUntil: the citizen is away until then (the plan's absence, now within it).
	AwayUntil *time.Time `json:"away_until,omitempty"`
}

// Overview returns the homes in the caller's scope, each with the state of its care plan
// on its gateways. mun narrows a scope of all municipalities to one (0: all); any other
// scope is its own municipality and districts.
func (s *Service) Overview(ctx context.Context, scope api.Scope, mun vagt.MunicipalityCode) ([]HomeState, error) {
	var districts []int64
	if !scope.All {
		mun, districts = scope.Municipality, scope.Districts
	}
	lines, err := s.store.HomeConfigLines(ctx, mun, districts, 0)
	if err != nil {
		return nil, err
	}
	out, now := []HomeState{}, s.o.Clock.Now()
	for _, l := range lines {
		if len(out) == 0 || out[len(out)-1].Home != l.Home {
			out = append(out, HomeState{Home: l.Home, Citizen: l.Citizen, District: l.District, Version: l.Desired, State: StateNone, Gateways: []GatewayRunning{}})
			if l.AwayFrom != nil && l.AwayUntil != nil && !now.Before(*l.AwayFrom) && now.Before(*l.AwayUntil) {
				out[len(out)-1].AwayUntil = l.AwayUntil
			}
		}
		h := &out[len(out)-1]
		if l.Gateway == "" {
			if h.Version > 0 {
				h.State = StatePending
			}
			continue
		}
		g := GatewayRunning{Gateway: l.Gateway, Online: l.Online, Applied: l.Applied, Reason: l.Refused}
		g.State = state(l.Desired, GatewayConfigState{Applied: l.Applied, Refused: l.Refused})
		h.Gateways = append(h.Gateways, g)
		if h.State == StateNone || h.State == StateLatest || g.State == StateRefused {
			h.State = g.State
		}
	}
	return out, s.coverage(ctx, mun, districts, out)
}
