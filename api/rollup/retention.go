package rollup

import (
	"context"
	"time"

	"github.com/vagt-dk/vagt"
)

// Forgetter is what retention needs of the store (sqlstore.Store).
type Forgetter interface {
	ForgetActivityBefore(ctx context.Context, m vagt.MunicipalityCode, firstKept int) error
}

// Retention trims the roll-up with a municipality's telemetry (retention.ActivityForgetter).
type Retention struct {
	Store    Forgetter
	Location *time.Location // nil: Copenhagen
}

// ForgetBefore forgets the municipality's days before `before`, and the day `before`
// falls in unless it is that day's midnight: a day whose readings are partly deleted
// keeps nothing derived from them. Its whole-day figures then count the devices that
// reported only after `before` as inactive, for that one day at the horizon.
func (r Retention) ForgetBefore(ctx context.Context, m vagt.MunicipalityCode, before time.Time) error {
	loc := r.Location
	if loc == nil {
		loc = vagt.Copenhagen
	}
	return r.Store.ForgetActivityBefore(ctx, m, int(dayOf(ceilMidnight(before, loc), loc)))
}
