package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/vagt-dk/vagt/api"
)

// The audit log's hash chain: each row's chain is the SHA-256 of the previous row's chain
// and the row's own fields, so changing, removing or slipping in a row anywhere but at the
// end breaks every chain after it, and VerifyAudit finds the first row that does not fit.
// It does not stop the database's owner from rewriting the whole tail with fresh hashes:
// the head that VerifyAudit reports must be kept somewhere the owner cannot write
// (docs/operations.md, "Audit integrity"). Rows from before migration 8 have no chain.

func chainHash(prev string, at int64, actor, action, object, detail string) string {
	h := sha256.New()
	for _, f := range []string{prev, strconv.FormatInt(at, 10), actor, action, object, detail} {
		fmt.Fprintf(h, "%d:%s;", len(f), f) // length-prefixed: no field can pose as two
	}
	return hex.EncodeToString(h.Sum(nil))
}

// auditLock serialises the audit writers on PostgreSQL. It is not the event log's lock
// (eventLogLock): an alarm's commit must never wait behind an audited read. Alert actions
// take this one first (audit, then appendEvent); an erasure takes the roll-up's
// (activityLock) before it, so every transaction takes them in one order and none can
// deadlock (they could while the roll-up's key was the event log's).
const auditLock = 7260003

// auditHead returns the chain of the newest audit row, taking the lock that keeps the
// chain linear: on PostgreSQL two transactions must not both chain to the same row (held
// to commit; on SQLite writers are serialised already).
func (t *tx) auditHead(ctx context.Context) (string, error) {
	if t.s.dialect == postgres {
		if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, auditLock); err != nil {
			return "", err
		}
	}
	var prev string
	err := t.row(ctx, `SELECT chain FROM audit ORDER BY id DESC LIMIT 1`).Scan(&prev)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return prev, err
}

// AuditCheck is what VerifyAudit found.
type AuditCheck struct {
	Rows      int    `json:"rows"`
	Unchained int    `json:"unchained"` // leading rows from before the chain existed
	Head      string `json:"head"`      // the newest row's chain: keep it off this machine
	HeadID    int64  `json:"head_id"`
	// BrokenAt is the first row whose chain does not follow from the rows before it (0:
	// none): it, or a row before it, was changed, removed or inserted by hand.
	BrokenAt int64 `json:"broken_at,omitempty"`
}

// VerifyAudit walks the audit log in id order and checks the hash chain.
func (s *AuditService) VerifyAudit(ctx context.Context) (AuditCheck, error) {
	var (
		c       AuditCheck
		prev    string
		started bool
	)
	err := s.each(ctx, `SELECT id, at, actor, action, object, detail, chain FROM audit ORDER BY id`, nil, func(r *sql.Rows) error {
		var (
			id                                 int64
			at                                 int64
			actor, action, object, detail, got string
		)
		if err := r.Scan(&id, &at, &actor, &action, &object, &detail, &got); err != nil {
			return err
		}
		c.Rows++
		c.Head, c.HeadID = got, id
		if !started && got == "" {
			c.Unchained++
			return nil
		}
		started = true
		if c.BrokenAt == 0 && got != chainHash(prev, at, actor, action, object, detail) {
			c.BrokenAt = id
		}
		prev = got
		return nil
	})
	if err != nil {
		return c, storeErr("verify audit", err)
	}
	return c, nil
}

// Audit appends to the audit log. The table refuses updates and deletes.
func (s *AuditService) Audit(ctx context.Context, e api.AuditEntry) error {
	err := s.inTx(ctx, func(t *tx) error {
		return t.audit(ctx, e.At, e.Actor, e.Action, e.Object, e.Detail)
	})
	if err != nil {
		return storeErr("audit", err)
	}
	return nil
}

// AuditLog returns audit entries, newest first; object "" means all. Only a scope of all
// municipalities reads it (api.Principal.AuditScope): the entries name objects of every
// municipality; any other scope is api.ErrOutOfScope.
func (s *AuditService) AuditLog(ctx context.Context, scope api.Scope, object string, before int64, limit int) ([]api.AuditEntry, error) {
	if !scope.All {
		return nil, fmt.Errorf("audit log: %w", api.ErrOutOfScope)
	}
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	query, args := `SELECT id, at, actor, action, object, detail FROM audit WHERE 1 = 1`, []any{}
	if object != "" {
		query += ` AND object = ?`
		args = append(args, object)
	}
	if before > 0 {
		query += ` AND id < ?`
		args = append(args, before)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	out := []api.AuditEntry{}
	err := s.each(ctx, query, args, func(r *sql.Rows) error {
		var (
			e  api.AuditEntry
			at int64
		)
		err := r.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Object, &e.Detail)
		e.At = fromMs(at)
		out = append(out, e)
		return err
	})
	if err != nil {
		return nil, storeErr("audit log", err)
	}
	return out, nil
}
