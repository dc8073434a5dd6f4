package sqlstore

import "context"

// TamperWithAuditForTest tries what the audit log must refuse.
func (s *Store) TamperWithAuditForTest(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE audit SET actor = 'mallory'`); err == nil {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM audit`)
	return err
}

// ActivityLockForTest is the roll-up's advisory lock key on PostgreSQL.
const ActivityLockForTest = activityLock

// AuditLockForTest and EventLogLockForTest are the audit chain's and the event log's
// advisory lock keys on PostgreSQL.
const (
	AuditLockForTest    = auditLock
	EventLogLockForTest = eventLogLock
)
