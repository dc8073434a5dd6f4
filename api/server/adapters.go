package server

import (
	"context"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alarmlane"
	"github.com/vagt-dk/vagt/api/careplan"
	"github.com/vagt-dk/vagt/api/downlink"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// The small adapters the wiring hands to consumers: a service seen through a consumer's
// interface, or two services where a consumer needs both.

// authStore is the token and audit services as httpapi.AuthStore: authentication
// audits what it refuses.
type authStore struct {
	*sqlstore.UserService
	*sqlstore.AuditService
}

// laneSink commits lane messages to the alert service at the clock's time.
type laneSink struct {
	store     *sqlstore.AlertService
	clock     api.Clock
	careplans *careplan.Service
	downlink  *downlink.Notifier // nil without a broker
}

func (l laneSink) Alarm(ctx context.Context, a *vagt.Alarm) (string, error) {
	r, err := l.store.IngestAlarm(ctx, a, l.clock.Now())
	if err == nil && r.Change == sqlstore.ChangeDuplicate && a.Clears == 0 && l.downlink != nil {
		// A redelivered raise writes no event, so the event log tells the gateway nothing; it
		// sends again because it did not hear what became of it (its "received" was lost, or
		// this api restarted before telling). Told again from the committed alert, off this
		// goroutine (docs/gateway.md, "An alarm kept until the platform confirms it").
		l.downlink.Retell(r.Alert.ID)
	}
	if err == nil && r.SeqReused {
		return alarmlane.FlagSeqReused, nil
	}
	return "", err
}

func (l laneSink) Status(ctx context.Context, st *vagt.Status) error {
	now := l.clock.Now()
	seen, err := l.store.RecordStatusSeen(ctx, st, now)
	if err != nil {
		return err
	}
	if st.Online && !seen.Ignored && l.downlink != nil {
		// A gateway with QoS 0 lanes got no downlink while it was away; it says "online"
		// only once its lanes are granted, so what is told now reaches it. Off this
		// goroutine (docs/gateway.md, "Lane QoS").
		l.downlink.RetellGateway(st.Gateway, seen.Previous, now)
	}
	return l.careplans.Status(ctx, st)
}
