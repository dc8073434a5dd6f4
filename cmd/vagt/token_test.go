package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

func TestTokenCreate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vagt.db")
	env := func(k string) string { return map[string]string{"VAGT_DB": db}[k] }
	var out, errOut bytes.Buffer
	err := commands.Run(context.Background(), "vagt", []string{"token", "create", "--name", "anna", "--role", "staff", "--municipality", "766"}, env, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	token := strings.TrimSpace(out.String())
	if !strings.HasPrefix(token, auth.TokenPrefix) {
		t.Fatalf("token %q", token)
	}
	s, err := sqlstore.Open(t.Context(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Principal(t.Context(), auth.HashToken(token), time.Now())
	if err != nil || p.Name != "anna" || p.Role != api.RoleStaff || p.Municipality != 766 {
		t.Fatalf("principal %v %+v", err, p)
	}
	log, err := s.AuditLog(t.Context(), api.Scope{All: true}, "", 0, 10)
	if err != nil || len(log) != 1 || log[0].Action != "token.create" {
		t.Fatalf("audit %v %+v", err, log)
	}
	// Staff need a municipality; the store keeps nothing of a refused token.
	err = commands.Run(context.Background(), "vagt", []string{"token", "create", "--name", "bo", "--role", "staff"}, env, &out, &errOut)
	if err == nil {
		t.Fatal("a staff token without a municipality was created")
	}
}

// vagt token list and revoke (issue 22, item 2): one token, then all of a user's; the
// listing shows no secret; created tokens get the role's default lifetime.
func TestTokenListAndRevoke(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vagt.db")
	env := func(k string) string { return map[string]string{"VAGT_DB": db}[k] }
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := commands.Run(context.Background(), "vagt", args, env, &out, &errOut); err != nil {
			t.Fatalf("vagt %s: %v: %s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}
	tablet := strings.TrimSpace(run("token", "create", "--name", "anna", "--role", "staff", "--municipality", "766", "--note", "tablet"))
	phone := strings.TrimSpace(run("token", "create", "--name", "anna", "--role", "staff", "--municipality", "766", "--note", "phone"))
	list := run("token", "list", "--user", "anna")
	if strings.Count(list, "\n") != 2 || strings.Contains(list, tablet) || strings.Contains(list, auth.HashToken(tablet)) || !strings.Contains(list, `"note":"tablet"`) {
		t.Fatalf("list:\n%s", list)
	}
	var newest auth.TokenInfo
	if err := json.Unmarshal([]byte(strings.SplitN(list, "\n", 2)[0]), &newest); err != nil {
		t.Fatal(err)
	}
	if newest.ExpiresAt == nil || newest.ExpiresAt.Sub(newest.CreatedAt) != 12*time.Hour || newest.IssuedBy != "cli" {
		t.Errorf("a staff token from the command line: %+v, want the 12-hour default", newest)
	}
	s, err := sqlstore.Open(t.Context(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	live := func(tok string) bool {
		_, err := s.Principal(t.Context(), auth.HashToken(tok), time.Now())
		return err == nil
	}
	if out := run("token", "revoke", "--id", strconv.FormatInt(newest.ID, 10)); !strings.Contains(out, "revoked token") {
		t.Errorf("revoke: %q", out)
	}
	if live(phone) || !live(tablet) {
		t.Fatalf("after revoking the phone's: phone %v tablet %v", live(phone), live(tablet))
	}
	if out := run("token", "revoke", "--user", "anna"); !strings.Contains(out, "revoked 1 tokens of anna") {
		t.Errorf("revoke all: %q", out)
	}
	if live(tablet) {
		t.Fatal("the tablet's token works after revoking all of anna's")
	}
	var out, errOut bytes.Buffer
	if err := commands.Run(context.Background(), "vagt", []string{"token", "create", "--name", "root", "--role", "admin", "--expires", "48h"}, env, &out, &errOut); err == nil {
		t.Error("a 48-hour admin token was created")
	}
	log, err := s.AuditLog(t.Context(), api.Scope{All: true}, "", 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "token.revoke_all token.revoke token.list token.create token.create" {
		t.Errorf("audit: %s", got)
	}
}

// vagt audit verify: an intact log passes and prints its head; a rewritten row fails.
func TestAuditVerify(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vagt.db")
	env := func(k string) string { return map[string]string{"VAGT_DB": db}[k] }
	var out, errOut bytes.Buffer
	for range 2 {
		if err := commands.Run(context.Background(), "vagt", []string{"token", "create", "--name", "anna", "--role", "staff", "--municipality", "766"}, env, &out, &errOut); err != nil {
			t.Fatal(err, errOut.String())
		}
	}
	out.Reset()
	if err := commands.Run(context.Background(), "vagt", []string{"audit", "verify"}, env, &out, &errOut); err != nil {
		t.Fatalf("verify an intact log: %v %s", err, errOut.String())
	}
	var c sqlstore.AuditCheck
	if err := json.Unmarshal(out.Bytes(), &c); err != nil || c.Rows != 2 || len(c.Head) != 64 || c.BrokenAt != 0 {
		t.Fatalf("verify: %v %s", err, out.String())
	}
	// The database's owner drops the guard and rewrites a row.
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET actor = 'mallory' WHERE id = 1`} {
		if _, err := raw.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	if err := commands.Run(context.Background(), "vagt", []string{"audit", "verify"}, env, &out, &errOut); err == nil {
		t.Fatal("a rewritten audit row passed the check")
	}
}
