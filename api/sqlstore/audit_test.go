package sqlstore_test

import (
	"errors"
	"testing"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// An audit row cannot be rewritten by inserting over its id: SQLite's INSERT OR REPLACE
// (and REPLACE INTO) deletes the old row without firing the delete trigger, PostgreSQL's
// upsert is an update and TRUNCATE fires no row trigger. Raw SQL, as the database's
// owner or an injected statement would write it (issue 22, item 6).
func TestAuditRefusesReplace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		if err := s.Audit(ctx, api.AuditEntry{At: t0, Actor: "anna", Action: "citizen.read", Object: "citizen/1"}); err != nil {
			t.Fatal(err)
		}
		first, err := s.AuditLog(ctx, api.Scope{All: true}, "", 0, 1)
		if err != nil || len(first) != 1 {
			t.Fatalf("audit log: %v %+v", err, first)
		}
		id := first[0].ID
		attempts := []string{
			`INSERT INTO audit (id, at, actor, action, object, detail) VALUES (?, 0, 'mallory', 'nothing', 'nothing', '')`,
			`INSERT INTO audit (id, at, actor, action, object, detail) VALUES (?, 0, 'mallory', 'nothing', 'nothing', '')
				ON CONFLICT (id) DO UPDATE SET actor = excluded.actor`,
		}
		if !s.Postgres() {
			attempts = append(attempts,
				`INSERT OR REPLACE INTO audit (id, at, actor, action, object, detail) VALUES (?, 0, 'mallory', 'nothing', 'nothing', '')`,
				`REPLACE INTO audit (id, at, actor, action, object, detail) VALUES (?, 0, 'mallory', 'nothing', 'nothing', '')`)
		}
		for _, q := range attempts {
			if err := s.ExecForTest(ctx, q, id); err == nil {
				t.Errorf("accepted: %s", q)
			}
		}
		if s.Postgres() {
			if err := s.ExecForTest(ctx, `TRUNCATE audit`); err == nil {
				t.Error("accepted: TRUNCATE audit")
			}
		}
		after, err := s.AuditLog(ctx, api.Scope{All: true}, "", 0, 10)
		if err != nil || len(after) != 1 || after[0] != first[0] {
			t.Fatalf("audit log changed: %v %+v, was %+v", err, after, first)
		}
		// A new entry still appends.
		if err := s.Audit(ctx, api.AuditEntry{At: t0, Actor: "anna", Action: "alert.read", Object: "alert/1"}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAuditLogScope on both stores: the audit log names objects of every municipality, so
// the store answers only a scope of all of it (an admin's, api.Principal.AuditScope); a
// municipality's or a district's scope is api.ErrOutOfScope and gets no entry.
func TestAuditLogScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		if err := s.Audit(ctx, api.AuditEntry{At: t0, Actor: "anna", Action: "alert.read", Object: "alert/1"}); err != nil {
			t.Fatal(err)
		}
		for _, scope := range []api.Scope{{Municipality: 766}, {Municipality: 766, Districts: []int64{1}, User: "anna"}, {}} {
			if log, err := s.AuditLog(ctx, scope, "alert/1", 0, 10); !errors.Is(err, api.ErrOutOfScope) || log != nil {
				t.Errorf("scope %+v reads the audit log: %+v %v", scope, log, err)
			}
		}
		if log, err := s.AuditLog(ctx, api.Scope{All: true}, "alert/1", 0, 10); err != nil || len(log) != 1 || log[0].Actor != "anna" {
			t.Errorf("all of it: %+v %v", log, err)
		}
	})
}
