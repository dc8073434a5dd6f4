package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

func init() {
	commands["audit"] = subcmd.Group("vagt audit", "check the audit log's hash chain: audit verify --db FILE|URL",
		subcmd.Set{"verify": {Summary: "check the hash chain and print its head", Run: runAuditVerify}})
}

// runAuditVerify verifies the audit log's hash chain and prints what it found as JSON, head
// included: compare the head with the one kept off the machine (docs/operations.md).
func runAuditVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt audit verify", flag.ContinueOnError)
	db := fs.String("db", "var/vagt.db", "SQLite file, or postgres:// URL (as for vagt api)")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	store, err := sqlstore.Open(ctx, *db, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	c, err := store.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(stdout).Encode(c); err != nil {
		return err
	}
	if c.BrokenAt != 0 {
		return fmt.Errorf("audit: the hash chain breaks at row %d: a row was changed, removed or inserted by hand", c.BrokenAt)
	}
	return nil
}
