package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

const tokenColumns = `t.id, t.user_id, u.name, u.role, t.created_at, t.expires_at, t.revoked_at, t.issued_by, t.note`

func scanToken(r interface{ Scan(...any) error }) (auth.TokenInfo, error) {
	var (
		ti               auth.TokenInfo
		created          int64
		expires, revoked sql.NullInt64
	)
	err := r.Scan(&ti.ID, &ti.UserID, &ti.User, &ti.Role, &created, &expires, &revoked, &ti.IssuedBy, &ti.Note)
	ti.CreatedAt, ti.ExpiresAt, ti.RevokedAt = fromMs(created), nullMs(expires), nullMs(revoked)
	return ti, err
}

// UserID returns the id of the user name; api.ErrNotFound when there is none.
func (s *UserService) UserID(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM users WHERE name = ?`), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("user %q: %w", name, api.ErrNotFound)
	} else if err != nil {
		return 0, storeErr("user", err)
	}
	return id, nil
}

// Tokens lists a user's tokens, newest first, without their secrets or hashes.
func (s *UserService) Tokens(ctx context.Context, userID int64) ([]auth.TokenInfo, error) {
	if _, err := s.userName(ctx, userID); err != nil {
		return nil, err
	}
	out := []auth.TokenInfo{}
	err := s.each(ctx, `SELECT `+tokenColumns+` FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = ? ORDER BY t.id DESC`,
		[]any{userID}, func(r *sql.Rows) error {
			ti, err := scanToken(r)
			out = append(out, ti)
			return err
		})
	if err != nil {
		return nil, storeErr("tokens", err)
	}
	return out, nil
}

func (s *DB) userName(ctx context.Context, userID int64) (string, error) {
	var name string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT name FROM users WHERE id = ?`), userID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("user %d: %w", userID, api.ErrNotFound)
	} else if err != nil {
		return "", storeErr("user", err)
	}
	return name, nil
}

// RevokeToken revokes token id for actor and audits it in the same transaction. Revoking a
// revoked token changes nothing and is not an error.
func (s *UserService) RevokeToken(ctx context.Context, id int64, actor string, now time.Time) (auth.TokenInfo, error) {
	var ti auth.TokenInfo
	err := s.inTx(ctx, func(t *tx) error {
		var err error
		ti, err = scanToken(t.row(ctx, `SELECT `+tokenColumns+` FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("token %d: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		if ti.RevokedAt != nil {
			return nil
		}
		if _, err := t.exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ?`, ms(now), id); err != nil {
			return err
		}
		at := fromMs(ms(now))
		ti.RevokedAt = &at
		return t.audit(ctx, now, actor, "token.revoke", fmt.Sprintf("user/%d", ti.UserID), fmt.Sprintf("token/%d", id))
	})
	if err != nil {
		return ti, storeErr("revoke token", err)
	}
	return ti, nil
}

// RevokeUserTokens revokes every live token of a user (a lost device, someone who left)
// and returns how many it revoked; audited in the same transaction.
func (s *UserService) RevokeUserTokens(ctx context.Context, userID int64, actor string, now time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(t *tx) error {
		var err error
		if err = t.row(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, userID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %d: %w", userID, api.ErrNotFound)
		}
		if err := t.row(ctx, `SELECT COUNT(*) FROM tokens WHERE user_id = ? AND revoked_at IS NULL`, userID).Scan(&n); err != nil {
			return err
		}
		return t.revokeUserTokens(ctx, userID, actor, now)
	})
	if err != nil {
		return 0, storeErr("revoke tokens", err)
	}
	return n, nil
}

func (t *tx) revokeUserTokens(ctx context.Context, userID int64, actor string, now time.Time) error {
	res, err := t.exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, ms(now), userID)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	return t.audit(ctx, now, actor, "token.revoke_all", fmt.Sprintf("user/%d", userID), fmt.Sprintf("%d tokens", n))
}

// IssueActivationCode stores the hash of a one-time code with which the citizen obtains
// a token of their own (auth.NewActivationCode); audited with the issuer. Codes issued
// before for the citizen and not used stop working: only the newest letter counts. A
// citizen outside the scope is api.ErrOutOfScope.
func (s *UserService) IssueActivationCode(ctx context.Context, scope api.Scope, citizen int64, hash, issuer string, expires, now time.Time) error {
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.citizenInScope(ctx, scope, citizen); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE activation_codes SET expires_at = ? WHERE citizen_id = ? AND used_at IS NULL AND expires_at > ?`,
			ms(now), citizen, ms(now)); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO activation_codes (hash, citizen_id, issued_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hash, citizen, issuer, ms(now), ms(expires)); err != nil {
			return err
		}
		return t.audit(ctx, now, issuer, "activation.create", fmt.Sprintf("citizen/%d", citizen), "expires "+expires.UTC().Format(time.RFC3339))
	})
	if err != nil {
		return storeErr("activation code", err)
	}
	return nil
}

// Activate exchanges an unused, unexpired activation code for a citizen token (hash,
// expiring at expires) of the citizen's own login, in one transaction: a code works once.
// The citizen's older tokens are revoked. api.ErrUnauthenticated for an unknown, used or
// expired code.
func (s *UserService) Activate(ctx context.Context, codeHash, tokenHash string, expires, now time.Time) (api.Principal, int64, error) {
	var (
		p       api.Principal
		citizen int64
	)
	err := s.inTx(ctx, func(t *tx) error {
		var (
			issuer string
			mun    int
		)
		err := t.row(ctx, `UPDATE activation_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ?
			RETURNING citizen_id, issued_by`, ms(now), codeHash, ms(now)).Scan(&citizen, &issuer)
		if errors.Is(err, sql.ErrNoRows) {
			return api.ErrUnauthenticated
		} else if err != nil {
			return err
		}
		err = t.row(ctx, `SELECT municipality FROM citizens WHERE id = ? AND erased_at IS NULL`, citizen).Scan(&mun)
		if errors.Is(err, sql.ErrNoRows) {
			return api.ErrUnauthenticated // erased since the letter went out
		} else if err != nil {
			return err
		}
		p = api.Principal{Name: fmt.Sprintf("citizen-%d", citizen), Role: api.RoleCitizen, Municipality: vagt.MunicipalityCode(mun), IssuedBy: auth.ActivationIssuer}
		if err := t.row(ctx, `INSERT INTO users (name, role, municipality, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET role = excluded.role, municipality = excluded.municipality RETURNING id`,
			p.Name, string(p.Role), mun, ms(now)).Scan(&p.UserID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO citizen_users (user_id, citizen_id) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET citizen_id = excluded.citizen_id`,
			p.UserID, citizen); err != nil {
			return err
		}
		if err := t.revokeUserTokens(ctx, p.UserID, p.Name, now); err != nil {
			return err
		}
		if err := t.row(ctx, `INSERT INTO tokens (hash, user_id, created_at, expires_at, issued_by) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			tokenHash, p.UserID, ms(now), ms(expires), auth.ActivationIssuer).Scan(&p.TokenID); err != nil {
			return err
		}
		return t.audit(ctx, now, p.Name, "activation.use", fmt.Sprintf("citizen/%d", citizen), fmt.Sprintf("token/%d; code issued by %s", p.TokenID, issuer))
	})
	if err != nil {
		if errors.Is(err, api.ErrUnauthenticated) {
			return p, 0, err
		}
		return p, 0, storeErr("activate", err)
	}
	return p, citizen, nil
}
