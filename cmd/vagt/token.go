package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

func init() {
	commands["token"] = subcmd.Command{
		Summary: "create an API bearer token: token create --name anna --role staff --municipality 766 --districts 1,2",
		Run:     runToken,
	}
}

func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: vagt token create --db FILE|URL --name NAME --role ROLE [--municipality CODE] [--districts 1,2] [--expires 720h]")
		return fmt.Errorf("token: want the subcommand create")
	}
	fs := flag.NewFlagSet("vagt token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "var/vagt.db", "SQLite file, or postgres:// URL (as for vagt api)")
	name := fs.String("name", "", "user name (created, or updated with this role and scope)")
	role := fs.String("role", "", "staff, manager, national, admin or citizen")
	mun := fs.Uint("municipality", 0, "municipality code (kommunekode), e.g. 766")
	districts := fs.String("districts", "", "district ids, comma-separated (staff; none: the whole municipality)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h; 0: does not expire")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := subcmd.FlagsFromEnv(fs, getenv); err != nil {
		return err
	}
	p := auth.Principal{Name: *name, Role: auth.Role(*role), Municipality: vagt.MunicipalityCode(*mun)}
	if *districts != "" {
		for _, d := range strings.Split(*districts, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
			if err != nil {
				return fmt.Errorf("token: district %q: %w", d, err)
			}
			p.Districts = append(p.Districts, id)
		}
	}
	store, err := sqlstore.Open(ctx, *db, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	now := time.Now()
	var exp *time.Time
	if *expires > 0 {
		t := now.Add(*expires)
		exp = &t
	}
	p, err = store.IssueToken(ctx, p, hash, exp, now)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if err := store.Audit(ctx, auth.AuditEntry{At: now, Actor: "cli", Action: "token.create",
		Object: fmt.Sprintf("user/%d", p.UserID), Detail: string(p.Role)}); err != nil {
		return err
	}
	// The token is shown once; the store keeps only its SHA-256.
	_, err = fmt.Fprintln(stdout, token)
	return err
}
