package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

func init() {
	commands["token"] = subcmd.Group("vagt token",
		"API bearer tokens: token create --name anna --role staff --municipality 766 --districts 1,2; token list --user anna; token revoke --id 7 | --user anna",
		subcmd.Set{
			"create": {Summary: "make a user's token (the user is created or updated with the role and scope)", Run: tokenCreate},
			"list":   {Summary: "list a user's tokens", Run: tokenList},
			"revoke": {Summary: "revoke one token (--id) or all of a user's (--user)", Run: tokenRevoke},
		})
}

func tokenStore(ctx context.Context, fs *flag.FlagSet, db *string, args []string, getenv func(string) string, stdout io.Writer) (*sqlstore.Store, error) {
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return nil, err
	}
	return sqlstore.Open(ctx, *db, sqlstore.Options{})
}

func tokenCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "var/vagt.db", "SQLite file, or postgres:// URL (as for vagt api)")
	name := fs.String("name", "", "user name (created, or updated with this role and scope)")
	role := fs.String("role", "", "staff, manager, national, admin or citizen")
	mun := fs.Uint("municipality", 0, "municipality code (kommunekode), e.g. 766")
	districts := fs.String("districts", "", "district ids, comma-separated (staff; none: the whole municipality)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 12h; 0: the role's default (staff 12h, admin 8h, manager and national 30 days); no token lives for ever")
	revokeOlder := fs.Bool("revoke-older", false, "revoke the user's other tokens (a re-issue after a lost device)")
	note := fs.String("note", "", "what the token is for, shown in token list (e.g. tablet 3)")
	store, err := tokenStore(ctx, fs, db, args, getenv, stdout)
	if err != nil {
		return err
	}
	defer store.Close()
	p := api.Principal{Name: *name, Role: api.Role(*role), Municipality: vagt.MunicipalityCode(*mun)}
	if *districts != "" {
		for _, d := range strings.Split(*districts, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
			if err != nil {
				return fmt.Errorf("token: district %q: %w", d, err)
			}
			p.Districts = append(p.Districts, id)
		}
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	now := time.Now()
	exp, err := auth.Lifetime(p.Role, *expires, now)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	p, err = store.IssueTokenWith(ctx, p, hash, &exp, now, auth.IssueOptions{IssuedBy: "cli", Note: *note, RevokeOlder: *revokeOlder})
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if err := store.Audit(ctx, api.AuditEntry{At: now, Actor: "cli", Action: "token.create",
		Object: fmt.Sprintf("user/%d", p.UserID), Detail: fmt.Sprintf("%s token/%d", p.Role, p.TokenID)}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "token %d for %s (%s), expires %s\n", p.TokenID, p.Name, p.Role, exp.UTC().Format(time.RFC3339))
	// The token is shown once; the store keeps only its SHA-256.
	_, err = fmt.Fprintln(stdout, token)
	return err
}

// tokenList prints a user's tokens as JSON lines: ids, dates, issuer, note; never a secret.
func tokenList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt token list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "var/vagt.db", "SQLite file, or postgres:// URL (as for vagt api)")
	user := fs.String("user", "", "user name")
	store, err := tokenStore(ctx, fs, db, args, getenv, stdout)
	if err != nil {
		return err
	}
	defer store.Close()
	id, err := store.UserID(ctx, *user)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	list, err := store.Tokens(ctx, id)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if err := store.Audit(ctx, api.AuditEntry{At: time.Now(), Actor: "cli", Action: "token.list", Object: fmt.Sprintf("user/%d", id)}); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, ti := range list {
		if err := enc.Encode(ti); err != nil {
			return err
		}
	}
	return nil
}

// tokenRevoke revokes one token (--id) or all of a user's (--user); audited.
func tokenRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt token revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "var/vagt.db", "SQLite file, or postgres:// URL (as for vagt api)")
	id := fs.Int64("id", 0, "the token's id (token list shows it)")
	user := fs.String("user", "", "revoke every token of this user")
	store, err := tokenStore(ctx, fs, db, args, getenv, stdout)
	if err != nil {
		return err
	}
	defer store.Close()
	if (*id == 0) == (*user == "") {
		return errors.New("token revoke: give --id or --user, one of them")
	}
	now := time.Now()
	if *id != 0 {
		ti, err := store.RevokeToken(ctx, *id, "cli", now)
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "revoked token %d of %s\n", ti.ID, ti.User)
		return err
	}
	uid, err := store.UserID(ctx, *user)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	n, err := store.RevokeUserTokens(ctx, uid, "cli", now)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "revoked %d tokens of %s\n", n, *user)
	return err
}
