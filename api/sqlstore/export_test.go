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

// AfterOpenAlertLookupForTest runs f in this store's raises between the lookup of the
// unresolved alert of the device and type (id; 0 when there is none) and the write that
// folds into it or opens a new one. Other stores' raises do not call it. The returned
// function removes it.
func (s *Store) AfterOpenAlertLookupForTest(f func(id int64)) (remove func()) {
	h := func(db *DB, id int64) {
		if db == s.DB {
			f(id)
		}
	}
	afterOpenAlertLookup.Store(&h)
	return func() { afterOpenAlertLookup.Store(nil) }
}
