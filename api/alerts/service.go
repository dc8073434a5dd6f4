package alerts

import (
	"context"
	"time"

	"github.com/vagt-dk/vagt/api"
)

// Service is what staff do with alerts: list them within their scope, read one with the
// personal data behind it, acknowledge, resolve and annotate. api/sqlstore implements it
// (checked in api/sqlstore/contracts.go); api/httpapi consumes it. It lives here rather than
// in package api because it speaks of this package's types.
type Service interface {
	ListAlerts(ctx context.Context, scope api.Scope, f Filter) ([]Alert, error)
	AlertDetail(ctx context.Context, id int64, scope api.Scope, now time.Time) (Detail, error)
	Ack(ctx context.Context, id int64, actor string, scope api.Scope, now time.Time) (Alert, error)
	// ResolveSeen resolves the alert if no press folded into it since the caller saw it
	// (a *StaleError otherwise).
	ResolveSeen(ctx context.Context, id int64, actor string, scope api.Scope, seen Seen, outcome Outcome, note string, now time.Time) (Alert, error)
	AddNote(ctx context.Context, id int64, actor string, scope api.Scope, text string, now time.Time) (Note, error)
}

// EventLog is the committed alert events in id order: the live stream's source and its
// resume point (Last-Event-ID).
type EventLog interface {
	EventSource
	HasEvent(ctx context.Context, id int64) (bool, error)
}
