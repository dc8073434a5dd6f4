// Package pgsetup_test runs init.sql against a real PostgreSQL (test/localstack) and
// checks the roles, the database, the limits, that nobody else may connect, and the
// backup and restore commands README.md gives. The local stack trusts connections from
// 127.0.0.1, so passwords are set but not checked here.
package pgsetup_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func TestInitSQL(t *testing.T) {
	for _, tool := range []string{"psql", "pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(stacktest.RequireEnv) == "1" {
				t.Fatalf("%s is not installed (make tools) and %s=1", tool, stacktest.RequireEnv)
			}
			t.Skipf("%s is not installed (make tools, or apt-get install postgresql-client); set %s=1 to fail instead", tool, stacktest.RequireEnv)
		}
	}
	pg := stacktest.Postgres(t, localstack.PostgresOptions{Database: "bootstrap"})
	dsn := func(user, db string) string {
		return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", user, pg.Addr(), db)
	}
	for i := range 2 { // twice: it must be idempotent
		out, err := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "api_password=pw'"+fmt.Sprint(i),
			"-v", "backup_password=bpw", "-v", "conn_limit=34", "-f", "init.sql", dsn("vagt", "postgres")).CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: psql -f init.sql: %v\n%s", i+1, err, out)
		}
	}

	ctx := t.Context()
	admin := connect(t, ctx, dsn("vagt", "postgres"))
	var owner string
	var limit int
	var super, createdb bool
	if err := admin.QueryRow(ctx, `SELECT r.rolconnlimit, r.rolsuper, r.rolcreatedb, o.rolname
		FROM pg_roles r, pg_database d JOIN pg_roles o ON o.oid = d.datdba
		WHERE r.rolname = 'vagt_api' AND d.datname = 'vagt'`).Scan(&limit, &super, &createdb, &owner); err != nil {
		t.Fatal(err)
	}
	if limit != 34 || super || createdb || owner != "vagt_api" {
		t.Errorf("vagt_api: connection limit %d, superuser %t, createdb %t; database owner %s", limit, super, createdb, owner)
	}

	// The api can run its migrations and use what it made.
	api := connect(t, ctx, dsn("vagt_api", "vagt"))
	var timeout string
	if err := api.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout != "30s" {
		t.Errorf("statement_timeout = %q (%v), want 30s", timeout, err)
	}
	for _, sql := range []string{
		"CREATE TABLE alerts (id bigint PRIMARY KEY, note text)",
		"INSERT INTO alerts VALUES (1, 'fall at 03:12')",
	} {
		if _, err := api.Exec(ctx, sql); err != nil {
			t.Fatalf("as vagt_api: %s: %v", sql, err)
		}
	}

	// Somebody else with a login may not connect to vagt.
	if _, err := admin.Exec(ctx, "CREATE ROLE intruder LOGIN"); err != nil {
		t.Fatal(err)
	}
	if c, err := pgx.Connect(ctx, dsn("intruder", "vagt")); err == nil {
		c.Close(ctx)
		t.Error("a role without CONNECT got into vagt")
	} else if !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("intruder: %v, want permission denied", err)
	}

	// Backup as vagt_backup and restore into a new database, as README.md says.
	dump := filepath.Join(t.TempDir(), "vagt.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file="+dump, dsn("vagt_backup", "vagt")).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump as vagt_backup: %v\n%s", err, out)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE vagt_restored OWNER vagt_api"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("pg_restore", "--no-owner", "--role=vagt_api", "--exit-on-error",
		"--dbname="+dsn("vagt", "vagt_restored"), dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	restored := connect(t, ctx, dsn("vagt_api", "vagt_restored"))
	var note, tableOwner string
	if err := restored.QueryRow(ctx, "SELECT note, (SELECT tableowner FROM pg_tables WHERE tablename = 'alerts') FROM alerts WHERE id = 1").
		Scan(&note, &tableOwner); err != nil || note != "fall at 03:12" || tableOwner != "vagt_api" {
		t.Errorf("restored: %q owned by %q (%v)", note, tableOwner, err)
	}
}

func connect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
