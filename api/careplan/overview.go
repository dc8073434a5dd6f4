package careplan

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// HomeState is one home in the overview: does its gateway run the latest version?
type HomeState struct {
	Home     vagt.HomeID      `json:"home"`
	District int64            `json:"district"`
	Version  uint64           `json:"version"`
	State    State            `json:"state"`
	Gateways []GatewayRunning `json:"gateways"`
	Devices  Coverage         `json:"devices"`
}

// Coverage is how many of the devices registered behind a home's gateways its care plan
// covers: a device left out is ignored by the gateway.
type Coverage struct {
	Registered int  `json:"registered"`
	Covered    *int `json:"covered"` // null: no plan of its own; the gateway runs its installer's file
}

// Overview returns the homes of a municipality (0: all), of the districts when any are
// given, each with the state of its care plan on its gateways.
func (s *Service) Overview(ctx context.Context, mun vagt.MunicipalityCode, districts []int64) ([]HomeState, error) {
	lines, err := s.store.HomeConfigLines(ctx, mun, districts, 0)
	if err != nil {
		return nil, err
	}
	out := []HomeState{}
	for _, l := range lines {
		if len(out) == 0 || out[len(out)-1].Home != l.Home {
			out = append(out, HomeState{Home: l.Home, District: l.District, Version: l.Desired, State: StateNone, Gateways: []GatewayRunning{}})
		}
		h := &out[len(out)-1]
		if l.Plan != nil && h.Devices.Covered == nil {
			h.Devices.Covered = new(int)
		}
		h.Devices.Registered += len(l.Registered)
		if len(l.Registered) > 0 && l.Plan != nil {
			var plan Settings
			_ = json.Unmarshal(l.Plan, &plan) // stored by Update: valid; unreadable counts as covering nothing
			for _, d := range l.Registered {
				if slices.ContainsFunc(plan.Devices, func(p Device) bool { return p.Device == d }) {
					*h.Devices.Covered++
				}
			}
		}
		if l.Gateway == "" {
			if h.Version > 0 {
				h.State = StatePending
			}
			continue
		}
		g := GatewayRunning{Gateway: l.Gateway, Online: l.Online, Applied: l.Applied, Reason: l.Refused}
		g.State = state(l.Desired, sqlstore.GatewayConfigState{Applied: l.Applied, Refused: l.Refused})
		h.Gateways = append(h.Gateways, g)
		if h.State == StateNone || h.State == StateLatest || g.State == StateRefused {
			h.State = g.State
		}
	}
	return out, nil
}
