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

// IssueToken creates the user p.Name (or updates its role and scope) and stores a token
// hash for it. It returns the principal with its user id.
func (s *UserService) IssueToken(ctx context.Context, p api.Principal, hash string, expires *time.Time, now time.Time) (api.Principal, error) {
	return s.IssueTokenWith(ctx, p, hash, expires, now, auth.IssueOptions{})
}

// IssueTokenWith is IssueToken recording who issued the token, and revoking the user's
// older tokens when o.RevokeOlder (the revocation is audited in the same transaction).
func (s *UserService) IssueTokenWith(ctx context.Context, p api.Principal, hash string, expires *time.Time, now time.Time, o auth.IssueOptions) (api.Principal, error) {
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	err := s.inTx(ctx, func(t *tx) error {
		var mun any
		if p.Municipality != 0 {
			mun = int(p.Municipality)
		}
		if err := t.row(ctx, `INSERT INTO users (name, role, municipality, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET role = excluded.role, municipality = excluded.municipality RETURNING id`,
			p.Name, string(p.Role), mun, ms(now)).Scan(&p.UserID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM user_districts WHERE user_id = ?`, p.UserID); err != nil {
			return err
		}
		for _, d := range p.Districts {
			var dm int
			err := t.row(ctx, `SELECT municipality FROM districts WHERE id = ?`, d).Scan(&dm)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && dm != int(p.Municipality)) {
				return fmt.Errorf("%w: district %d is not in municipality %d", api.ErrInvalid, d, p.Municipality)
			} else if err != nil {
				return err
			}
			if _, err := t.exec(ctx, `INSERT INTO user_districts (user_id, district_id) VALUES (?, ?)`, p.UserID, d); err != nil {
				return err
			}
		}
		var exp any
		if expires != nil {
			exp = ms(*expires)
		}
		if o.RevokeOlder {
			if err := t.revokeUserTokens(ctx, p.UserID, o.IssuedBy, now); err != nil {
				return err
			}
		}
		if err := t.row(ctx, `INSERT INTO tokens (hash, user_id, created_at, expires_at, issued_by, note) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			hash, p.UserID, ms(now), exp, o.IssuedBy, o.Note).Scan(&p.TokenID); err != nil {
			return err
		}
		p.IssuedBy = o.IssuedBy
		return nil
	})
	if err != nil {
		return p, storeErr("issue token", err)
	}
	return p, nil
}

// Principal returns whom a token hash belongs to; api.ErrUnauthenticated when nobody
// (unknown, expired or revoked).
func (s *UserService) Principal(ctx context.Context, hash string, now time.Time) (*api.Principal, error) {
	var (
		p   api.Principal
		mun sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT u.id, u.name, u.role, u.municipality, t.id, t.issued_by FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`), hash, ms(now)).
		Scan(&p.UserID, &p.Name, &p.Role, &mun, &p.TokenID, &p.IssuedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrUnauthenticated
	} else if err != nil {
		return nil, storeErr("principal", err)
	}
	p.Municipality = vagt.MunicipalityCode(mun.Int64)
	err = s.each(ctx, `SELECT district_id FROM user_districts WHERE user_id = ? ORDER BY district_id`, []any{p.UserID}, func(r *sql.Rows) error {
		var d int64
		err := r.Scan(&d)
		p.Districts = append(p.Districts, d)
		return err
	})
	if err != nil {
		return nil, storeErr("principal", err)
	}
	return &p, nil
}

// audit appends to the audit log inside t, so an alert action and its record commit
// together. Each row carries the hash chain (audit.go).
func (t *tx) audit(ctx context.Context, at time.Time, actor, action, object, detail string) error {
	prev, err := t.auditHead(ctx)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO audit (at, actor, action, object, detail, chain) VALUES (?, ?, ?, ?, ?, ?)`,
		ms(at), actor, action, object, detail, chainHash(prev, ms(at), actor, action, object, detail))
	return err
}
