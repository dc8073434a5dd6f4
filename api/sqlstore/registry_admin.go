package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

// The registry as managers and admins keep it. A municipality of 0 means every
// municipality (admins). A method that reads or changes personal data takes the caller's
// api.Scope and decides it here (scope_test.go lists the others and why).

// munFilter returns " AND <col> = ?" and its argument, or nothing for all municipalities.
func munFilter(col string, m vagt.MunicipalityCode) (string, []any) {
	if m == 0 {
		return "", nil
	}
	return " AND " + col + " = ?", []any{int(m)}
}

// listMunicipality narrows a list's municipality m (0: every one the scope holds) to the
// scope: one municipality's scope lists its own, and asking for another is
// api.ErrForbidden (it names no object); a citizen's own scope lists nothing.
func listMunicipality(scope api.Scope, m vagt.MunicipalityCode) (vagt.MunicipalityCode, error) {
	switch {
	case scope.All:
		return m, nil
	case scope.Citizen != 0 || scope.Municipality == 0:
		return 0, fmt.Errorf("%w: the registry is for managers and admins", api.ErrForbidden)
	case m != 0 && m != scope.Municipality:
		return 0, fmt.Errorf("%w: you see municipality %d only", api.ErrForbidden, scope.Municipality)
	}
	return scope.Municipality, nil
}

// Municipalities returns the 98 with their regions, by code.
func (s *RegistryService) Municipalities(ctx context.Context) ([]registry.Municipality, error) {
	var out []registry.Municipality
	err := s.each(ctx, `SELECT code, name, region FROM municipalities ORDER BY code`, nil, func(r *sql.Rows) error {
		var m registry.Municipality
		err := r.Scan(&m.Code, &m.Name, &m.Region)
		m.RegionName = m.Region.String()
		out = append(out, m)
		return err
	})
	if err != nil {
		return nil, storeErr("municipalities", err)
	}
	return out, nil
}

// Districts returns the districts of m (0: every one the scope holds); asking for a
// municipality outside the scope is api.ErrForbidden.
func (s *RegistryService) Districts(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]registry.District, error) {
	m, err := listMunicipality(scope, m)
	if err != nil {
		return nil, err
	}
	where, args := munFilter("municipality", m)
	out := []registry.District{}
	err = s.each(ctx, `SELECT id, municipality, name FROM districts WHERE 1 = 1`+where+` ORDER BY id`, args, func(r *sql.Rows) error {
		var d registry.District
		err := r.Scan(&d.ID, &d.Municipality, &d.Name)
		out = append(out, d)
		return err
	})
	if err != nil {
		return nil, storeErr("districts", err)
	}
	return out, nil
}

// AddDistrict adds a district to the scope's municipality (d.Municipality 0: the scope's
// own). A municipality outside the scope is api.ErrOutOfScope, decided before the name is
// checked.
func (s *RegistryService) AddDistrict(ctx context.Context, scope api.Scope, d registry.District) (registry.District, error) {
	if d.Municipality == 0 && !scope.All {
		d.Municipality = scope.Municipality
	}
	if !scope.Allows(d.Municipality, 0) {
		return d, fmt.Errorf("district in municipality %d: %w", d.Municipality, api.ErrOutOfScope)
	}
	if d.Name == "" || len(d.Name) > 100 {
		return d, fmt.Errorf("%w: name must be 1-100 bytes", api.ErrInvalid)
	}
	var err error
	d.ID, err = s.CreateDistrict(ctx, d.Municipality, d.Name)
	return d, err
}

// districtMunicipalityOf returns the municipality a district belongs to.
func (s *DB) districtMunicipalityOf(ctx context.Context, id int64) (vagt.MunicipalityCode, error) {
	var m int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT municipality FROM districts WHERE id = ?`), id).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("district %d: %w", id, api.ErrNotFound)
	} else if err != nil {
		return 0, storeErr("district", err)
	}
	return vagt.MunicipalityCode(m), nil
}

// RegisterCitizen adds a citizen with contact persons, registered at now, audited as
// citizen.create by actor in the same transaction.
// A citizen without a municipality goes to the scope's; one outside the scope is
// api.ErrOutOfScope.
func (s *RegistryService) RegisterCitizen(ctx context.Context, scope api.Scope, c registry.Citizen, actor string, now time.Time) (registry.Citizen, error) {
	if c.Municipality == 0 && !scope.All {
		c.Municipality = scope.Municipality
	}
	if !scope.Allows(c.Municipality, 0) {
		return c, fmt.Errorf("citizen in municipality %d: %w", c.Municipality, api.ErrOutOfScope)
	}
	if err := c.Municipality.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 || len(c.Address) > 500 || len(c.KeyBoxNote) > 500 {
		return c, fmt.Errorf("%w: name (1-200), address and key_box_note (≤ 500 bytes)", api.ErrInvalid)
	}
	c.RegisteredAt = now.UTC().Truncate(time.Millisecond)
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.row(ctx, `INSERT INTO citizens (municipality, name, address, key_box_note, registered_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			int(c.Municipality), c.Name, c.Address, c.KeyBoxNote, ms(now)).Scan(&c.ID); err != nil {
			return err
		}
		for _, ct := range c.Contacts {
			if _, err := t.exec(ctx, `INSERT INTO contacts (citizen_id, name, phone, relation) VALUES (?, ?, ?, ?)`, c.ID, ct.Name, ct.Phone, ct.Relation); err != nil {
				return err
			}
		}
		return t.audit(ctx, now, actor, "citizen.create", citizenObject(c.ID), "")
	})
	if err != nil {
		return c, storeErr("register citizen", err)
	}
	if c.Contacts == nil {
		c.Contacts = []api.Contact{}
	}
	return c, nil
}

func citizenObject(id int64) string { return fmt.Sprintf("citizen/%d", id) }

// Citizens returns the citizens of m (0: all the scope holds) with their contacts; the read
// is audited as citizen.list by actor before anything is returned. Asking for a
// municipality outside the scope is api.ErrForbidden: it names no object.
func (s *RegistryService) Citizens(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, actor string, now time.Time) ([]registry.Citizen, error) {
	m, err := listMunicipality(scope, m)
	if err != nil {
		return nil, err
	}
	if err := s.inTx(ctx, func(t *tx) error {
		return t.audit(ctx, now, actor, "citizen.list", fmt.Sprintf("municipality/%d", m), "")
	}); err != nil {
		return nil, storeErr("citizens", err)
	}
	where, args := munFilter("municipality", m)
	return s.citizens(ctx, `WHERE 1 = 1`+where, args)
}

// Citizen returns one citizen with contacts, audited as citizen.read by actor first; a
// citizen outside the scope is api.ErrOutOfScope and reads nothing.
func (s *RegistryService) Citizen(ctx context.Context, scope api.Scope, id int64, actor string, now time.Time) (registry.Citizen, error) {
	if err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.citizenInScope(ctx, scope, id); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "citizen.read", citizenObject(id), "")
	}); err != nil {
		return registry.Citizen{}, storeErr("citizen", err)
	}
	cs, err := s.citizens(ctx, `WHERE id = ?`, []any{id})
	if err != nil {
		return registry.Citizen{}, err
	}
	if len(cs) == 0 {
		return registry.Citizen{}, fmt.Errorf("citizen %d: %w", id, api.ErrNotFound)
	}
	return cs[0], nil
}

// citizenInScope returns the citizen's municipality after deciding the caller's access:
// api.ErrNotFound for no such citizen, api.ErrOutOfScope for one outside the scope (the
// API answers both alike).
func (t *tx) citizenInScope(ctx context.Context, scope api.Scope, id int64) (vagt.MunicipalityCode, error) {
	var m int
	err := t.row(ctx, `SELECT municipality FROM citizens WHERE id = ?`, id).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("citizen %d: %w", id, api.ErrNotFound)
	} else if err != nil {
		return 0, err
	}
	if own := scope.Citizen != 0 && scope.Citizen == id; !own && !scope.Allows(vagt.MunicipalityCode(m), 0) {
		return 0, fmt.Errorf("citizen %d: %w", id, api.ErrOutOfScope)
	}
	return vagt.MunicipalityCode(m), nil
}

// citizenMunicipalityOf returns the municipality of a citizen.
func (s *DB) citizenMunicipalityOf(ctx context.Context, id int64) (vagt.MunicipalityCode, error) {
	var m int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT municipality FROM citizens WHERE id = ?`), id).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("citizen %d: %w", id, api.ErrNotFound)
	} else if err != nil {
		return 0, storeErr("citizen", err)
	}
	return vagt.MunicipalityCode(m), nil
}

func (s *DB) citizens(ctx context.Context, where string, args []any) ([]registry.Citizen, error) {
	out := []registry.Citizen{}
	idx := map[int64]int{}
	err := s.each(ctx, `SELECT id, municipality, name, address, key_box_note, registered_at, erased_at FROM citizens `+where+` ORDER BY id`, args, func(r *sql.Rows) error {
		var (
			c      registry.Citizen
			reg    int64
			erased sql.NullInt64
		)
		err := r.Scan(&c.ID, &c.Municipality, &c.Name, &c.Address, &c.KeyBoxNote, &reg, &erased)
		c.RegisteredAt, c.ErasedAt, c.Contacts = fromMs(reg), nullMs(erased), []api.Contact{}
		idx[c.ID] = len(out)
		out = append(out, c)
		return err
	})
	if err == nil && len(out) > 0 {
		err = s.each(ctx, `SELECT citizen_id, name, phone, relation FROM contacts WHERE citizen_id IN (SELECT id FROM citizens `+where+`) ORDER BY id`, args, func(r *sql.Rows) error {
			var (
				id int64
				ct api.Contact
			)
			if err := r.Scan(&id, &ct.Name, &ct.Phone, &ct.Relation); err != nil {
				return err
			}
			if i, ok := idx[id]; ok {
				out[i].Contacts = append(out[i].Contacts, ct)
			}
			return nil
		})
	}
	if err != nil {
		return nil, storeErr("citizens", err)
	}
	return out, nil
}

// AddHome adds a home in a district (and of a citizen of the same municipality, when
// given). A district outside the scope is api.ErrOutOfScope, decided before the home is
// checked; one that does not exist is invalid input.
func (s *RegistryService) AddHome(ctx context.Context, scope api.Scope, h registry.Home) (registry.Home, error) {
	m, err := s.districtMunicipalityOf(ctx, h.District)
	if err != nil {
		return h, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if !scope.Allows(m, 0) {
		return h, fmt.Errorf("district %d: %w", h.District, api.ErrOutOfScope)
	}
	if err := h.ID.Validate(); err != nil {
		return h, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	h.Municipality = m
	if h.Citizen != 0 {
		cm, err := s.citizenMunicipalityOf(ctx, h.Citizen)
		if err != nil || cm != m {
			return h, fmt.Errorf("%w: citizen %d is not in municipality %d", api.ErrInvalid, h.Citizen, m)
		}
	}
	var exists int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM homes WHERE id = ?`), string(h.ID)).Scan(&exists); err != nil {
		return h, storeErr("add home", err)
	}
	if exists > 0 {
		return h, fmt.Errorf("home %s: %w: it exists", h.ID, api.ErrConflict)
	}
	if err := s.CreateHome(ctx, h.ID, h.District, h.Citizen); err != nil {
		return h, err
	}
	return h, nil
}

// Homes returns the homes of m (0: every one the scope holds), decommissioned ones
// included; asking for a municipality outside the scope is api.ErrForbidden.
func (s *RegistryService) Homes(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]registry.Home, error) {
	m, err := listMunicipality(scope, m)
	if err != nil {
		return nil, err
	}
	where, args := munFilter("d.municipality", m)
	return s.homes(ctx, where, args)
}

func (s *DB) homes(ctx context.Context, where string, args []any) ([]registry.Home, error) {
	out := []registry.Home{}
	err := s.each(ctx, `SELECT h.id, h.district_id, COALESCE(h.citizen_id, 0), d.municipality, h.decommissioned_at
		FROM homes h JOIN districts d ON d.id = h.district_id WHERE 1 = 1`+where+` ORDER BY h.id`, args, func(r *sql.Rows) error {
		var (
			h     registry.Home
			decom sql.NullInt64
		)
		err := r.Scan(&h.ID, &h.District, &h.Citizen, &h.Municipality, &decom)
		h.DecommissionedAt = nullMs(decom)
		out = append(out, h)
		return err
	})
	if err != nil {
		return nil, storeErr("homes", err)
	}
	return out, nil
}

// ProvisionGateway registers a gateway in a home and stores the hash of its MQTT password.
// The home must be in the scope (a home that does not exist is invalid input), and so must
// a gateway that is registered already: naming one does not move it out of another
// municipality (api.ErrOutOfScope). A gateway that reported before it was registered, in
// no municipality yet, keeps its link state; one that was provisioned already is a
// conflict (its password is not shown again).
func (s *RegistryService) ProvisionGateway(ctx context.Context, scope api.Scope, id vagt.GatewayID, home vagt.HomeID, secretHash, actor string, now time.Time) (registry.Gateway, error) {
	g := registry.Gateway{ID: id, Home: home}
	if err := id.Validate(); err != nil {
		return g, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	err := s.inTx(ctx, func(t *tx) error {
		m, err := t.municipalityInScope(ctx, scope, "home "+string(home), homeMunicipality, string(home))
		if errors.Is(err, api.ErrNotFound) {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		} else if err != nil {
			return err
		}
		g.Municipality = m
		if err := t.mayTakeOver(ctx, scope, "gateway "+string(id), gatewayMunicipality, string(id)); err != nil {
			return err
		}
		var have string
		err = t.row(ctx, `SELECT secret_hash FROM gateways WHERE id = ?`, string(id)).Scan(&have)
		if err == nil && have != "" {
			return fmt.Errorf("gateway %s: %w: it is provisioned already", id, api.ErrConflict)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var homeDecom sql.NullInt64
		if err := t.row(ctx, `SELECT decommissioned_at FROM homes WHERE id = ?`, string(home)).Scan(&homeDecom); err == nil && homeDecom.Valid {
			return fmt.Errorf("home %s: %w: it is decommissioned", home, api.ErrConflict)
		}
		// A decommissioned gateway provisioned again (the same box, reused) is in use again;
		// its old devices keep their removal dates.
		if _, err := t.exec(ctx, `INSERT INTO gateways (id, home_id, municipality, secret_hash, provisioned_at)
			VALUES (?, ?, (SELECT d.municipality FROM homes h JOIN districts d ON d.id = h.district_id WHERE h.id = ?), ?, ?)
			ON CONFLICT (id) DO UPDATE SET home_id = excluded.home_id, municipality = excluded.municipality,
				secret_hash = excluded.secret_hash, provisioned_at = excluded.provisioned_at, decommissioned_at = NULL`,
			string(id), string(home), string(home), secretHash, ms(now)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "gateway.provision", "gateway/"+string(id), string(home))
	})
	if err != nil {
		return g, storeErr("provision gateway", err)
	}
	return g, nil
}

// mayTakeOver decides, for a gateway or device a create names (query selects its
// municipality by arg), that the caller may manage it where it is now: one that does not
// exist, or is known to no municipality yet, is anybody's to register; one of a
// municipality outside the scope is api.ErrOutOfScope.
func (t *tx) mayTakeOver(ctx context.Context, scope api.Scope, object, query string, arg any) error {
	var m sql.NullInt64
	err := t.row(ctx, query, arg).Scan(&m)
	switch {
	case errors.Is(err, sql.ErrNoRows), err == nil && m.Int64 == 0:
		return nil
	case err != nil:
		return err
	case !scope.Allows(vagt.MunicipalityCode(m.Int64), 0):
		return fmt.Errorf("%s: %w", object, api.ErrOutOfScope)
	}
	return nil
}

// Gateways returns the gateways of m (0: every one the scope holds), with link state,
// decommissioned ones included; asking for a municipality outside the scope is
// api.ErrForbidden.
func (s *RegistryService) Gateways(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]registry.Gateway, error) {
	m, err := listMunicipality(scope, m)
	if err != nil {
		return nil, err
	}
	where, args := munFilter("municipality", m)
	return s.gateways(ctx, where, args)
}

func (s *DB) gateways(ctx context.Context, where string, args []any) ([]registry.Gateway, error) {
	out := []registry.Gateway{}
	err := s.each(ctx, `SELECT id, COALESCE(home_id, ''), municipality, online, last_seen, software, decommissioned_at FROM gateways WHERE 1 = 1`+where+` ORDER BY id`, args, func(r *sql.Rows) error {
		var (
			g           registry.Gateway
			online      int
			seen, decom sql.NullInt64
		)
		err := r.Scan(&g.ID, &g.Home, &g.Municipality, &online, &seen, &g.Software, &decom)
		g.Online, g.LastSeen, g.DecommissionedAt = online == 1, nullMs(seen), nullMs(decom)
		out = append(out, g)
		return err
	})
	if err != nil {
		return nil, storeErr("gateways", err)
	}
	return out, nil
}
