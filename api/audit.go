package api

import "context"

// AuditService keeps the append-only audit log: every read of personal data and every
// change is written, and the log is read back per object.
type AuditService interface {
	Audit(ctx context.Context, e AuditEntry) error
	AuditLog(ctx context.Context, object string, before int64, limit int) ([]AuditEntry, error)
}
