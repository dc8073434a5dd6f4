package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/registry"
)

// migrationCitizen (13) is the citizen's own access (docs/citizen.md): the keyed hash of
// the identity the national login names each citizen by (never the identity itself),
// relatives' grants, the sessions a relative signed in with, and erasure requests.
const migrationCitizen = `
CREATE TABLE citizen_identities (
	citizen_id BIGINT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	id_hash TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	created_by TEXT NOT NULL,
	PRIMARY KEY (citizen_id, id_hash)
);
CREATE INDEX citizen_identities_hash ON citizen_identities (id_hash);
CREATE TABLE relative_grants (
	id {{id}},
	citizen_id BIGINT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	relative_name TEXT NOT NULL,
	relation TEXT NOT NULL,
	id_hash TEXT NOT NULL,
	relative_user TEXT NOT NULL,
	parts TEXT NOT NULL,
	valid_from BIGINT NOT NULL,
	valid_until BIGINT NOT NULL,
	granted_by TEXT NOT NULL,
	consent TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT,
	revoked_by TEXT
);
CREATE INDEX relative_grants_user ON relative_grants (relative_user);
CREATE INDEX relative_grants_citizen ON relative_grants (citizen_id);
CREATE TABLE erasure_requests (
	id {{id}},
	citizen_id BIGINT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	requested_at BIGINT NOT NULL,
	requested_by TEXT NOT NULL
);
`

// SetCitizenIdentity records the keyed hash of the identity (CPR number or pseudonym) the
// national login names the citizen by. Audited as citizen.identity for actor; the hash is
// not in the audit detail. A citizen outside the scope (api.Principal.RegistryScope) is
// api.ErrOutOfScope; an erased one is not found.
func (s *RegistryService) SetCitizenIdentity(ctx context.Context, scope api.Scope, citizen int64, idHash, actor string, now time.Time) error {
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.liveCitizenInScope(ctx, scope, citizen); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO citizen_identities (citizen_id, id_hash, created_at, created_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (citizen_id, id_hash) DO NOTHING`, citizen, idHash, ms(now), actor); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "citizen.identity", citizenObject(citizen), "national login identity recorded (keyed hash)")
	})
	if err != nil {
		return storeErr("set citizen identity", err)
	}
	return nil
}

// CitizensByIdentity returns the (not erased) citizens whose identity hashes to idHash with
// their municipalities. The login accepts exactly one.
func (s *RegistryService) CitizensByIdentity(ctx context.Context, idHash string) (map[int64]vagt.MunicipalityCode, error) {
	out := map[int64]vagt.MunicipalityCode{}
	err := s.each(ctx, `SELECT c.id, c.municipality FROM citizen_identities i JOIN citizens c ON c.id = i.citizen_id
		WHERE i.id_hash = ? AND c.erased_at IS NULL`, []any{idHash}, func(r *sql.Rows) error {
		var (
			id int64
			m  int
		)
		err := r.Scan(&id, &m)
		out[id] = vagt.MunicipalityCode(m)
		return err
	})
	if err != nil {
		return nil, storeErr("citizens by identity", err)
	}
	return out, nil
}

// IssueCitizenSession issues a session token (hash, expiring at expires) to the citizen's
// own login "citizen-N", linked to the citizen as an activation is. Audited as
// signin.national on the citizen's record, so it shows on the citizen's page.
func (s *RegistryService) IssueCitizenSession(ctx context.Context, citizen int64, hash string, expires, now time.Time) (api.Principal, error) {
	var p api.Principal
	err := s.inTx(ctx, func(t *tx) error {
		var mun int
		err := t.row(ctx, `SELECT municipality FROM citizens WHERE id = ? AND erased_at IS NULL`, citizen).Scan(&mun)
		if errors.Is(err, sql.ErrNoRows) {
			return api.ErrUnauthenticated
		} else if err != nil {
			return err
		}
		p = api.Principal{Name: fmt.Sprintf("citizen-%d", citizen), Role: api.RoleCitizen, Municipality: vagt.MunicipalityCode(mun), IssuedBy: auth.NationalLoginIssuer}
		if err := t.row(ctx, `INSERT INTO users (name, role, municipality, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET role = excluded.role, municipality = excluded.municipality RETURNING id`,
			p.Name, string(p.Role), mun, ms(now)).Scan(&p.UserID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO citizen_users (user_id, citizen_id) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET citizen_id = excluded.citizen_id`,
			p.UserID, citizen); err != nil {
			return err
		}
		if err := t.row(ctx, `INSERT INTO tokens (hash, user_id, created_at, expires_at, issued_by, note) VALUES (?, ?, ?, ?, ?, 'sign-in') RETURNING id`,
			hash, p.UserID, ms(now), ms(expires), auth.NationalLoginIssuer).Scan(&p.TokenID); err != nil {
			return err
		}
		return t.audit(ctx, now, p.Name, "signin.national", citizenObject(citizen), fmt.Sprintf("token/%d until %s", p.TokenID, expires.UTC().Format(time.RFC3339)))
	})
	if err != nil {
		if errors.Is(err, api.ErrUnauthenticated) {
			return p, err
		}
		return p, storeErr("citizen session", err)
	}
	return p, nil
}

// notRelatives are relations on record that are contacts but not relatives.
var notRelatives = []string{"", "nabo", "neighbour", "neighbor", "ven", "veninde", "friend", "hjemmepleje", "læge", "doctor"}

// liveCitizenInScope decides the caller's access to a citizen who is not erased:
// api.ErrNotFound for no such citizen or an erased one, api.ErrOutOfScope for one outside
// the scope (the citizen's own scope holds that citizen only; the API answers both alike).
func (t *tx) liveCitizenInScope(ctx context.Context, scope api.Scope, citizen int64) error {
	if _, err := t.citizenInScope(ctx, scope, citizen); err != nil {
		return err
	}
	var erased sql.NullInt64
	if err := t.row(ctx, `SELECT erased_at FROM citizens WHERE id = ?`, citizen).Scan(&erased); err != nil {
		return err
	}
	if erased.Valid {
		return fmt.Errorf("citizen %d: %w", citizen, api.ErrNotFound)
	}
	return nil
}

// validGrant checks a grant's parts, period and identity.
func validGrant(g registry.NewGrant, now time.Time) error {
	if len(g.Parts) == 0 {
		return fmt.Errorf("%w: a grant names at least one part (%s, %s)", api.ErrInvalid, registry.PartAlarms, registry.PartDevices)
	}
	for _, p := range g.Parts {
		if p != registry.PartAlarms && p != registry.PartDevices {
			return fmt.Errorf("%w: part %q (only %s and %s can be granted; never the key-box code)", api.ErrInvalid, p, registry.PartAlarms, registry.PartDevices)
		}
	}
	if !g.Until.After(g.From) || !g.Until.After(now) {
		return fmt.Errorf("%w: a grant must end after it starts and after now", api.ErrInvalid)
	}
	if g.IDHash == "" || g.RelativeUser == "" || g.Consent == "" {
		return fmt.Errorf("%w: a grant needs the relative's identity and the consent", api.ErrInvalid)
	}
	return nil
}

// GrantRelative records a grant after checking that the relative is a relative on the
// citizen's record (a contact of that name whose relation is family, not a neighbour or a
// friend): api.ErrInvalid otherwise. Audited as relative.grant on the citizen's record.
// The scope is the citizen's own (api.Principal.OwnScope) or the registry's
// (RegistryScope, staff granting on the citizen's documented consent); a citizen outside
// it is api.ErrOutOfScope, decided before the grant is checked.
func (s *RegistryService) GrantRelative(ctx context.Context, scope api.Scope, g registry.NewGrant, now time.Time) (registry.RelativeGrant, error) {
	out := registry.RelativeGrant{Citizen: g.Citizen, RelativeName: strings.TrimSpace(g.RelativeName), Parts: g.Parts, From: g.From.UTC(), Until: g.Until.UTC(),
		GrantedBy: g.GrantedBy, Consent: g.Consent, CreatedAt: now.UTC()}
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.liveCitizenInScope(ctx, scope, g.Citizen); err != nil {
			return err
		}
		if err := validGrant(g, now); err != nil {
			return err
		}
		found := false
		err := t.row(ctx, `SELECT relation FROM contacts WHERE citizen_id = ? AND lower(name) = lower(?) ORDER BY id LIMIT 1`, g.Citizen, out.RelativeName).Scan(&out.Relation)
		if err == nil {
			found = !slices.Contains(notRelatives, strings.ToLower(strings.TrimSpace(out.Relation)))
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %q is not a relative on the citizen's record (add them as a contact with their relation first)", api.ErrInvalid, out.RelativeName)
		}
		if err := t.row(ctx, `INSERT INTO relative_grants (citizen_id, relative_name, relation, id_hash, relative_user, parts, valid_from, valid_until, granted_by, consent, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, g.Citizen, out.RelativeName, out.Relation, g.IDHash, g.RelativeUser,
			strings.Join(g.Parts, ","), ms(g.From), ms(g.Until), g.GrantedBy, g.Consent, ms(now)).Scan(&out.ID); err != nil {
			return err
		}
		return t.audit(ctx, now, g.GrantedBy, "relative.grant", citizenObject(g.Citizen),
			fmt.Sprintf("grant/%d to %s (%s): %s, %s to %s; consent: %s", out.ID, out.RelativeName, out.Relation, strings.Join(g.Parts, ", "),
				out.From.Format(time.RFC3339), out.Until.Format(time.RFC3339), g.Consent))
	})
	if err != nil {
		return out, storeErr("grant relative", err)
	}
	return out, nil
}

const grantColumns = `id, citizen_id, relative_name, relation, parts, valid_from, valid_until, granted_by, consent, created_at, revoked_at, COALESCE(revoked_by, '')`

func scanGrant(r interface{ Scan(...any) error }) (registry.RelativeGrant, error) {
	var (
		g                    registry.RelativeGrant
		parts                string
		from, until, created int64
		revoked              sql.NullInt64
	)
	err := r.Scan(&g.ID, &g.Citizen, &g.RelativeName, &g.Relation, &parts, &from, &until, &g.GrantedBy, &g.Consent, &created, &revoked, &g.RevokedBy)
	g.Parts, g.From, g.Until, g.CreatedAt, g.RevokedAt = strings.Split(parts, ","), fromMs(from), fromMs(until), fromMs(created), nullMs(revoked)
	return g, err
}

// RelativeGrants returns the citizen's grants, newest first, revoked and expired included;
// a citizen outside the scope (the citizen's own login: api.Principal.OwnScope) is
// api.ErrOutOfScope.
func (s *RegistryService) RelativeGrants(ctx context.Context, scope api.Scope, citizen int64) ([]registry.RelativeGrant, error) {
	if err := s.citizenInScope(ctx, scope, citizen); err != nil {
		return nil, err
	}
	return s.grants(ctx, `WHERE citizen_id = ? ORDER BY id DESC`, citizen)
}

// citizenInScope decides the caller's access to a citizen before a read.
func (s *RegistryService) citizenInScope(ctx context.Context, scope api.Scope, citizen int64) error {
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.citizenInScope(ctx, scope, citizen)
		return err
	})
	return storeErrOrNil("citizen", err)
}

// GrantsOfRelative returns the grants a relative's login holds that are active at now.
func (s *RegistryService) GrantsOfRelative(ctx context.Context, relativeUser string, now time.Time) ([]registry.RelativeGrant, error) {
	gs, err := s.grants(ctx, `WHERE relative_user = ? AND revoked_at IS NULL AND valid_from <= ? AND valid_until > ? ORDER BY id`, relativeUser, ms(now), ms(now))
	if err != nil {
		return nil, err
	}
	// A grant for a citizen since erased lets nobody in.
	out := gs[:0]
	for _, g := range gs {
		var erased sql.NullInt64
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT erased_at FROM citizens WHERE id = ?`), g.Citizen).Scan(&erased); err != nil {
			return nil, storeErr("grants of relative", err)
		}
		if !erased.Valid {
			out = append(out, g)
		}
	}
	return out, nil
}

// RelativeHasGrant reports whether any grant, active at now, names this relative's identity.
func (s *RegistryService) RelativeHasGrant(ctx context.Context, relativeUser string, now time.Time) (bool, error) {
	gs, err := s.GrantsOfRelative(ctx, relativeUser, now)
	return len(gs) > 0, err
}

func (s *RegistryService) grants(ctx context.Context, where string, args ...any) ([]registry.RelativeGrant, error) {
	out := []registry.RelativeGrant{}
	err := s.each(ctx, `SELECT `+grantColumns+` FROM relative_grants `+where, args, func(r *sql.Rows) error {
		g, err := scanGrant(r)
		out = append(out, g)
		return err
	})
	if err != nil {
		return nil, storeErr("relative grants", err)
	}
	return out, nil
}

// RevokeGrant ends a grant of the citizen's at once; the relative's next request is
// refused. api.ErrNotFound for a grant of another citizen. Audited as relative.revoke. The
// scope is GrantRelative's: a citizen outside it is api.ErrOutOfScope.
func (s *RegistryService) RevokeGrant(ctx context.Context, scope api.Scope, citizen, grant int64, actor string, now time.Time) (registry.RelativeGrant, error) {
	var g registry.RelativeGrant
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.citizenInScope(ctx, scope, citizen); err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE relative_grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND citizen_id = ? AND revoked_at IS NULL`,
			ms(now), actor, grant, citizen)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var x int
			if err := t.row(ctx, `SELECT 1 FROM relative_grants WHERE id = ? AND citizen_id = ?`, grant, citizen).Scan(&x); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("grant %d: %w", grant, api.ErrNotFound)
			} else if err != nil {
				return err
			}
		}
		if g, err = scanGrant(t.row(ctx, `SELECT `+grantColumns+` FROM relative_grants WHERE id = ?`, grant)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "relative.revoke", citizenObject(citizen), fmt.Sprintf("grant/%d of %s", grant, g.RelativeName))
	})
	if err != nil {
		return g, storeErr("revoke grant", err)
	}
	return g, nil
}

// IssueRelativeSession issues a session token to a relative's login (relativeUser) that
// holds at least one active grant; api.ErrUnauthenticated when none. The token alone lets
// nobody in: every request checks the grants again (GrantsOfRelative).
func (s *RegistryService) IssueRelativeSession(ctx context.Context, relativeUser, hash string, expires, now time.Time) (api.Principal, error) {
	gs, err := s.GrantsOfRelative(ctx, relativeUser, now)
	if err != nil {
		return api.Principal{}, err
	}
	if len(gs) == 0 {
		return api.Principal{}, fmt.Errorf("%w: no citizen has granted this person access (or the grant has ended)", api.ErrUnauthenticated)
	}
	p := api.Principal{Name: relativeUser, Role: api.RoleRelative, IssuedBy: auth.NationalLoginIssuer}
	err = s.inTx(ctx, func(t *tx) error {
		if err := t.row(ctx, `INSERT INTO users (name, role, municipality, created_at) VALUES (?, ?, NULL, ?)
			ON CONFLICT (name) DO UPDATE SET role = excluded.role RETURNING id`, p.Name, string(p.Role), ms(now)).Scan(&p.UserID); err != nil {
			return err
		}
		if err := t.row(ctx, `INSERT INTO tokens (hash, user_id, created_at, expires_at, issued_by, note) VALUES (?, ?, ?, ?, ?, 'sign-in') RETURNING id`,
			hash, p.UserID, ms(now), ms(expires), auth.NationalLoginIssuer).Scan(&p.TokenID); err != nil {
			return err
		}
		for _, g := range gs {
			if err := t.audit(ctx, now, p.Name, "relative.signin", citizenObject(g.Citizen), fmt.Sprintf("grant/%d (%s)", g.ID, g.RelativeName)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return p, storeErr("relative session", err)
	}
	return p, nil
}

// RequestErasure records the citizen's request for erasure (GDPR art. 17) for the
// municipality to carry out (DELETE /api/v1/citizens/{id}). Refused with api.ErrConflict
// while an alert of the citizen's homes is not resolved: the visit must be finished and
// documented first. Audited as erasure.request. The scope is the citizen's own
// (api.Principal.OwnScope): another citizen is api.ErrOutOfScope.
func (s *RegistryService) RequestErasure(ctx context.Context, scope api.Scope, citizen int64, actor string, now time.Time) (time.Time, error) {
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.citizenInScope(ctx, scope, citizen); err != nil {
			return err
		}
		var open int
		if err := t.row(ctx, `SELECT COUNT(*) FROM alerts a JOIN homes h ON h.id = a.home_id WHERE h.citizen_id = ? AND a.state <> 'resolved'`, citizen).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return fmt.Errorf("%w: an alarm from your home is still open; your data can be erased when it is resolved and the visit is documented", api.ErrConflict)
		}
		if _, err := t.exec(ctx, `INSERT INTO erasure_requests (citizen_id, requested_at, requested_by) VALUES (?, ?, ?)`, citizen, ms(now), actor); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "erasure.request", citizenObject(citizen), "the citizen asked for erasure (GDPR art. 17)")
	})
	if err != nil {
		return time.Time{}, storeErr("request erasure", err)
	}
	return now, nil
}

// CitizenView reads the citizen's page, audited as citizen.view by actor with detail; the
// access log is read after the view is audited, so the citizen sees their own look too.
// The scope decides, in the transaction that audits the read: the citizen's own
// (api.Principal.OwnScope) the whole page; a relative's (api.Principal.RelativeScope) the
// citizen's name and the parts the relative's grants live at now name (no homes, no access
// log), read again here so a grant revoked or ended since the caller read it lets nobody
// in. A citizen outside the scope is api.ErrOutOfScope, and nothing is read or audited.
func (s *RegistryService) CitizenView(ctx context.Context, scope api.Scope, citizen int64, actor, detail string, now time.Time) (registry.CitizenView, error) {
	var parts []string // a relative's granted parts; nil for the whole page
	if err := s.inTx(ctx, func(t *tx) error {
		var err error
		if scope.Relative != "" {
			parts, err = t.relativeParts(ctx, scope.Relative, citizen, now)
		} else {
			_, err = t.citizenInScope(ctx, scope, citizen)
		}
		if err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "citizen.view", citizenObject(citizen), detail)
	}); err != nil {
		return registry.CitizenView{}, storeErr("citizen view", err)
	}
	x, err := s.citizenRecord(ctx, citizen)
	if err != nil {
		return registry.CitizenView{}, err
	}
	v := registry.CitizenView{Citizen: citizen, Name: x.Citizen.Name, Homes: []vagt.HomeID{}, Devices: x.Devices, Alerts: x.Alerts, AccessLog: x.AccessLog}
	if parts != nil {
		v.AccessLog = []api.AuditEntry{}
		if !slices.Contains(parts, registry.PartDevices) {
			v.Devices = []registry.Device{}
		}
		if !slices.Contains(parts, registry.PartAlarms) {
			v.Alerts = []registry.CitizenAlert{}
		}
		return v, nil
	}
	for _, h := range x.Homes {
		v.Homes = append(v.Homes, h.ID)
	}
	slices.Reverse(v.AccessLog) // newest first
	return v, nil
}

// relativeParts returns the parts that the grants of relativeUser live at now give of the
// citizen, who is not erased; api.ErrOutOfScope when no such grant names the citizen.
func (t *tx) relativeParts(ctx context.Context, relativeUser string, citizen int64, now time.Time) ([]string, error) {
	rows, err := t.query(ctx, `SELECT g.parts FROM relative_grants g JOIN citizens c ON c.id = g.citizen_id
		WHERE g.relative_user = ? AND g.citizen_id = ? AND g.revoked_at IS NULL AND g.valid_from <= ? AND g.valid_until > ? AND c.erased_at IS NULL`,
		relativeUser, citizen, ms(now), ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	parts := []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		for _, part := range strings.Split(p, ",") {
			if !slices.Contains(parts, part) {
				parts = append(parts, part)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("citizen %d: no live grant of this relative: %w", citizen, api.ErrOutOfScope)
	}
	return parts, nil
}

// CitizenCarePlans returns the care plans of the citizen's homes (a home without one is
// left out). The caller has audited the read (CitizenView). A citizen outside the scope
// (the citizen's own login) is api.ErrOutOfScope; a relative's scope holds no care plan.
func (s *RegistryService) CitizenCarePlans(ctx context.Context, scope api.Scope, citizen int64) ([]registry.CitizenCarePlan, error) {
	if err := s.citizenInScope(ctx, scope, citizen); err != nil {
		return nil, err
	}
	out := []registry.CitizenCarePlan{}
	err := s.each(ctx, `SELECT c.home_id, c.settings FROM home_configs c JOIN homes h ON h.id = c.home_id WHERE h.citizen_id = ? ORDER BY c.home_id`,
		[]any{citizen}, func(r *sql.Rows) error {
			var (
				p   registry.CitizenCarePlan
				raw string
			)
			if err := r.Scan(&p.Home, &raw); err != nil {
				return err
			}
			if !json.Valid([]byte(raw)) {
				return fmt.Errorf("care plan of %s: not JSON", p.Home)
			}
			p.Settings = json.RawMessage(raw)
			out = append(out, p)
			return nil
		})
	if err != nil {
		return nil, storeErr("citizen care plans", err)
	}
	return out, nil
}
