package alerts

import (
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Tier is who an alert is with: the district team first, then the backup ("bagvagt"), then
// the municipality's central on-call.
type Tier string

// The tiers, in escalation order (level 0, 1, 2).
const (
	TierDistrict Tier = "district"
	TierBackup   Tier = "backup"
	TierCentral  Tier = "central"
)

var tiers = []Tier{TierDistrict, TierBackup, TierCentral}

// TierOf returns the tier of an escalation level.
func TierOf(level int) Tier {
	if level < 0 || level >= len(tiers) {
		return TierCentral
	}
	return tiers[level]
}

// MaxLevel is the last escalation level (the central on-call).
const MaxLevel = 2

// Policy holds the timeouts that drive escalation and offline detection.
type Policy struct {
	// Escalate is, per priority, how long an alert may stay unacknowledged at one tier
	// before it goes to the next. Zero: alerts of that priority do not escalate.
	Escalate map[vagt.Priority]time.Duration
	// OfflineFactor times a gateway's heartbeat interval without a status makes it
	// suspect; OfflineGrace more and it gets a gateway_offline alert (a will saying
	// offline starts the grace at once).
	OfflineFactor int
	OfflineGrace  time.Duration
	// DefaultHeartbeat is assumed for a gateway that never said its interval.
	DefaultHeartbeat time.Duration
	// OnlineStable is how long a gateway must stay back before its offline alert resolves
	// itself; going offline again before that folds into the same alert (no flood).
	OnlineStable time.Duration
	// NeverConnected is how long after it was provisioned a gateway that has never sent a
	// status gets a gateway_offline alert marked never connected (details "never_connected":
	// "true"); it resolves itself when the gateway first connects. Zero: no such alert.
	NeverConnected time.Duration
	// ArriveWithin is the municipality's promise: help in the home this long after the
	// alarm. An alert someone is on the way to escalates when nobody arrived by then (or one
	// escalation step after "on my way", if later; presence.go). Zero: no arrival deadline.
	ArriveWithin time.Duration
}

// DefaultPolicy: critical alerts escalate after 60 s (the alarm centres' measure), high after
// 5 min, technical after 30 min; a gateway is offline after 3 missed heartbeats and 2 more
// minutes, and back for good after 5 minutes online; one provisioned and never heard from
// gets an alert after a day (an installer's visit).
func DefaultPolicy() Policy {
	return Policy{
		Escalate: map[vagt.Priority]time.Duration{
			vagt.PriorityCritical:  60 * time.Second,
			vagt.PriorityHigh:      5 * time.Minute,
			vagt.PriorityTechnical: 30 * time.Minute,
		},
		OfflineFactor:    3,
		OfflineGrace:     2 * time.Minute,
		DefaultHeartbeat: 60 * time.Second,
		OnlineStable:     5 * time.Minute,
		NeverConnected:   24 * time.Hour,
		ArriveWithin:     30 * time.Minute,
	}
}

// Validate checks the policy.
func (p Policy) Validate() error {
	for prio, d := range p.Escalate {
		if err := prio.Validate(); err != nil {
			return fmt.Errorf("escalation: %w", err)
		}
		if d < 0 {
			return fmt.Errorf("%w: escalation timeout %s for %s", api.ErrInvalid, d, prio)
		}
	}
	if p.OfflineFactor < 1 || p.OfflineGrace < 0 || p.DefaultHeartbeat <= 0 || p.OnlineStable < 0 || p.NeverConnected < 0 || p.ArriveWithin < 0 {
		return fmt.Errorf("%w: offline policy: factor ≥ 1, grace ≥ 0, heartbeat > 0, stable ≥ 0, never connected ≥ 0, arrive within ≥ 0", api.ErrInvalid)
	}
	return nil
}

// NextEscalation returns when an alert of priority p that reached level at time since
// escalates next, and false when it does not (no timeout, or the last tier).
func (p Policy) NextEscalation(prio vagt.Priority, level int, since time.Time) (time.Time, bool) {
	d := p.Escalate[prio]
	if d <= 0 || level >= MaxLevel {
		return time.Time{}, false
	}
	return since.Add(d), true
}

// OfflineAfter returns how long after the last status a gateway with that heartbeat
// interval gets an offline alert.
func (p Policy) OfflineAfter(heartbeat time.Duration) time.Duration {
	if heartbeat <= 0 {
		heartbeat = p.DefaultHeartbeat
	}
	return heartbeat*time.Duration(p.OfflineFactor) + p.OfflineGrace
}
