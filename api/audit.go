package api

import "context"

// AuditService keeps the append-only audit log: every read of personal data and every
// change is written, and the log is read back per object by those whose scope holds all
// of it (Principal.AuditScope).
type AuditService interface {
	Audit(ctx context.Context, e AuditEntry) error
	AuditLog(ctx context.Context, scope Scope, object string, before int64, limit int) ([]AuditEntry, error)
}
