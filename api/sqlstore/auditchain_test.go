package sqlstore_test

import (
	"testing"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// The audit log's hash chain finds a row that the database's owner changed (past the
// triggers, which the owner can drop) or slipped in by hand (issue 22, item 6).
func TestAuditHashChain(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		for _, who := range []string{"anna", "bo", "carl", "dorte"} {
			must(t, s.Audit(ctx, api.AuditEntry{At: t0, Actor: who, Action: "citizen.read", Object: "citizen/1"}))
		}
		c, err := s.VerifyAudit(ctx)
		if err != nil || c.Rows != 4 || c.Unchained != 0 || c.BrokenAt != 0 || len(c.Head) != 64 {
			t.Fatalf("intact log: %v %+v", err, c)
		}
		head := c.Head
		// A row slipped in by hand after the last one: it does not follow.
		must(t, s.ExecForTest(ctx, `INSERT INTO audit (at, actor, action, object, detail, chain) VALUES (0, 'mallory', 'nothing', 'x', '', ?)`, head))
		if c, err := s.VerifyAudit(ctx); err != nil || c.BrokenAt != c.HeadID {
			t.Fatalf("a forged row: %v %+v", err, c)
		}
		// The owner drops the guard and rewrites row 2.
		if s.Postgres() {
			must(t, s.ExecForTest(ctx, `ALTER TABLE audit DISABLE TRIGGER USER`))
		} else {
			must(t, s.ExecForTest(ctx, `DROP TRIGGER audit_no_update`))
		}
		first, err := s.QueryIntForTest(ctx, `SELECT MIN(id) FROM audit`)
		must(t, err)
		must(t, s.ExecForTest(ctx, `UPDATE audit SET actor = 'mallory' WHERE id = ?`, first+1))
		if c, err := s.VerifyAudit(ctx); err != nil || c.BrokenAt != first+1 {
			t.Fatalf("a rewritten row: %v %+v, want broken at %d", err, c, first+1)
		}
	})
}
