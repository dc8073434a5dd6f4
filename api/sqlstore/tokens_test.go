package sqlstore_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// Tokens are listed without secret, revoked one at a time or all of a user's at once,
// and a re-issue can revoke the older ones; a revoked token finds nobody; each revocation
// is in the audit log (issue 22, item 2).
func TestTokenRevocation(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		anna := api.Principal{Name: "anna", Role: api.RoleStaff, Municipality: 766, Districts: []int64{w.north}}
		issue := func(o auth.IssueOptions) (string, api.Principal) {
			t.Helper()
			tok, hash, _ := auth.NewToken()
			exp := t0.Add(12 * time.Hour)
			p, err := s.IssueTokenWith(ctx, anna, hash, &exp, t0, o)
			if err != nil {
				t.Fatal(err)
			}
			return tok, p
		}
		live := func(tok string) bool {
			t.Helper()
			_, err := s.Principal(ctx, auth.HashToken(tok), t0.Add(time.Minute))
			if err != nil && !errors.Is(err, api.ErrUnauthenticated) {
				t.Fatal(err)
			}
			return err == nil
		}
		tablet, p1 := issue(auth.IssueOptions{IssuedBy: "admin", Note: "tablet"})
		phone, p2 := issue(auth.IssueOptions{IssuedBy: "admin", Note: "phone"})
		if p1.TokenID == 0 || p2.TokenID == p1.TokenID || p1.UserID != p2.UserID {
			t.Fatalf("token ids %+v %+v", p1, p2)
		}
		got, err := s.Principal(ctx, auth.HashToken(tablet), t0)
		if err != nil || got.TokenID != p1.TokenID || got.IssuedBy != "admin" {
			t.Fatalf("principal %v %+v", err, got)
		}
		list, err := s.Tokens(ctx, p1.UserID)
		if err != nil || len(list) != 2 || list[0].ID != p2.TokenID || list[0].Note != "phone" || list[0].IssuedBy != "admin" || list[0].ExpiresAt == nil {
			t.Fatalf("tokens %v %+v", err, list)
		}
		b, _ := json.Marshal(list)
		for _, secret := range []string{tablet, phone, auth.HashToken(tablet), auth.HashToken(phone)} {
			if strings.Contains(string(b), secret) {
				t.Fatalf("the listing shows a secret or hash: %s", b)
			}
		}
		// One revoked: the other still works.
		ti, err := s.RevokeToken(ctx, p1.TokenID, "admin", t0)
		if err != nil || ti.RevokedAt == nil || ti.User != "anna" {
			t.Fatalf("revoke %v %+v", err, ti)
		}
		if live(tablet) || !live(phone) {
			t.Fatalf("after revoking the tablet's: tablet %v, phone %v", live(tablet), live(phone))
		}
		if _, err := s.RevokeToken(ctx, 99999, "admin", t0); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}
		// Re-issue revoking the older ones.
		fresh, _ := issue(auth.IssueOptions{IssuedBy: "admin", RevokeOlder: true})
		if live(phone) || !live(fresh) {
			t.Fatalf("re-issue: phone %v, fresh %v", live(phone), live(fresh))
		}
		// All of a user's.
		n, err := s.RevokeUserTokens(ctx, p1.UserID, "cli", t0)
		if err != nil || n != 1 || live(fresh) {
			t.Fatalf("revoke all: %v %d live %v", err, n, live(fresh))
		}
		if _, err := s.RevokeUserTokens(ctx, 99999, "cli", t0); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("revoke all of nobody: %v", err)
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "user/"+itoa(p1.UserID), 0, 10)
		if err != nil || len(log) != 3 || log[0].Action != "token.revoke_all" || log[0].Actor != "cli" ||
			log[1].Action != "token.revoke_all" || log[2].Action != "token.revoke" || log[2].Detail != "token/"+itoa(p1.TokenID) {
			t.Fatalf("audit %v %+v", err, log)
		}
	})
}

// An activation code gives the citizen a token of their own once, before it expires, and
// an issued code replaces the one before (issue 22, item 4).
func TestActivationCodes(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		setup(t, s)
		ctx := t.Context()
		cit, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Ole Hansen"})
		if err != nil {
			t.Fatal(err)
		}
		code, hash, err := auth.NewActivationCode()
		if err != nil || len(code) != 14 {
			t.Fatalf("code %q %v", code, err)
		}
		if err := s.IssueActivationCode(ctx, api.Scope{All: true}, cit, hash, "mads", t0.Add(72*time.Hour), t0); err != nil {
			t.Fatal(err)
		}
		_, tokHash, _ := auth.NewToken()
		exp := t0.Add(90 * 24 * time.Hour)
		// Expired: refused, and stays unused.
		if _, _, err := s.Activate(ctx, hash, tokHash, exp, t0.Add(72*time.Hour)); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("expired code: %v", err)
		}
		// Typed in lower case with spaces: the same code.
		p, c, err := s.Activate(ctx, auth.HashActivationCode(strings.ToLower(strings.ReplaceAll(code, "-", " "))), tokHash, exp, t0.Add(time.Hour))
		if err != nil || c != cit || p.Role != api.RoleCitizen || p.Municipality != 766 || p.TokenID == 0 {
			t.Fatalf("activate %v %d %+v", err, c, p)
		}
		got, err := s.Principal(ctx, tokHash, t0.Add(2*time.Hour))
		if err != nil || got.UserID != p.UserID || got.IssuedBy != auth.ActivationIssuer {
			t.Fatalf("principal %v %+v", err, got)
		}
		if id, err := s.CitizenOfUser(ctx, p.UserID); err != nil || id != cit {
			t.Fatalf("citizen of user %v %d", err, id)
		}
		_, tok2, _ := auth.NewToken()
		if _, _, err := s.Activate(ctx, hash, tok2, exp, t0.Add(2*time.Hour)); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("second use: %v", err)
		}
		// A new letter: the previous unused code stops working.
		_, h1, _ := auth.NewActivationCode()
		_, h2, _ := auth.NewActivationCode()
		must(t, s.IssueActivationCode(ctx, api.Scope{All: true}, cit, h1, "mads", t0.Add(75*time.Hour), t0.Add(3*time.Hour)))
		must(t, s.IssueActivationCode(ctx, api.Scope{All: true}, cit, h2, "mads", t0.Add(76*time.Hour), t0.Add(4*time.Hour)))
		if _, _, err := s.Activate(ctx, h1, tok2, exp, t0.Add(5*time.Hour)); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("superseded code: %v", err)
		}
		if _, _, err := s.Activate(ctx, h2, tok2, exp, t0.Add(5*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// The second activation revoked the first token.
		if _, err := s.Principal(ctx, tokHash, t0.Add(6*time.Hour)); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("first token after a new activation: %v", err)
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "citizen/"+itoa(cit), 0, 10)
		if err != nil || len(log) != 5 || log[0].Action != "activation.use" || log[4].Action != "activation.create" || log[4].Actor != "mads" {
			t.Fatalf("audit %v %+v", err, log)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
