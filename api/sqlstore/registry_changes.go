package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

// Changes to the registry after creation. Nothing with history is deleted: a home or
// gateway taken out of use keeps its row with a decommissioned_at, because alerts,
// statistics (a device's installed and removed dates, the citizen behind it) and care
// plans refer to it. Each change is audited in its own transaction with the names of the
// fields it changed, never their values.

func fieldsDetail(fields []string) string { return "fields=" + strings.Join(fields, ",") }

func districtObject(id int64) string { return fmt.Sprintf("district/%d", id) }

// inScope reads the municipality of one registry object (query selects it by arg) and
// decides the caller's access in the transaction that changes the object:
// api.ErrNotFound for no such object, api.ErrOutOfScope for one outside the scope (the API
// answers both alike).
func (t *tx) inScope(ctx context.Context, scope api.Scope, object, query string, arg any) error {
	_, err := t.municipalityInScope(ctx, scope, object, query, arg)
	return err
}

// municipalityInScope is inScope that returns the object's municipality.
func (t *tx) municipalityInScope(ctx context.Context, scope api.Scope, object, query string, arg any) (vagt.MunicipalityCode, error) {
	var m int
	err := t.row(ctx, query, arg).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%s: %w", object, api.ErrNotFound)
	} else if err != nil {
		return 0, err
	}
	if !scope.Allows(vagt.MunicipalityCode(m), 0) {
		return 0, fmt.Errorf("%s: %w", object, api.ErrOutOfScope)
	}
	return vagt.MunicipalityCode(m), nil
}

const (
	districtMunicipality = `SELECT municipality FROM districts WHERE id = ?`
	homeMunicipality     = `SELECT d.municipality FROM homes h JOIN districts d ON d.id = h.district_id WHERE h.id = ?`
	gatewayMunicipality  = `SELECT municipality FROM gateways WHERE id = ?`
)

// District returns one district.
func (s *RegistryService) District(ctx context.Context, id int64) (registry.District, error) {
	d := registry.District{ID: id}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT municipality, name FROM districts WHERE id = ?`), id).Scan(&d.Municipality, &d.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("district %d: %w", id, api.ErrNotFound)
	} else if err != nil {
		return d, storeErr("district", err)
	}
	return d, nil
}

// UpdateDistrict renames a district (names are unique in a municipality), audited as
// district.update.
// A district outside the scope is api.ErrOutOfScope, decided before the change is checked.
func (s *RegistryService) UpdateDistrict(ctx context.Context, scope api.Scope, id int64, c registry.DistrictChange, actor string, now time.Time) (registry.District, error) {
	var invalid error // answered as it is, unwrapped
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, fmt.Sprintf("district %d", id), districtMunicipality, id); err != nil {
			return err
		}
		if c.Name != nil && (strings.TrimSpace(*c.Name) == "" || len(*c.Name) > 100) {
			invalid = &api.FieldError{Field: "name", Reason: "must be 1-100 bytes"}
			return invalid
		}
		var (
			mun  int
			name string
		)
		err := t.row(ctx, `SELECT municipality, name FROM districts WHERE id = ?`, id).Scan(&mun, &name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("district %d: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		if c.Name == nil || *c.Name == name {
			return nil
		}
		var n int
		if err := t.row(ctx, `SELECT COUNT(*) FROM districts WHERE municipality = ? AND name = ? AND id <> ?`, mun, *c.Name, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("district %d: %w: municipality %d has a district of that name", id, api.ErrConflict, mun)
		}
		if _, err := t.exec(ctx, `UPDATE districts SET name = ? WHERE id = ?`, *c.Name, id); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "district.update", districtObject(id), fieldsDetail([]string{"name"}))
	})
	if invalid != nil {
		return registry.District{}, invalid
	}
	if err != nil {
		return registry.District{}, storeErr("update district", err)
	}
	return s.District(ctx, id)
}

// DeleteDistrict deletes a district that nothing refers to: no home (a decommissioned
// one keeps its district for history) and no staff user assigned to it. Audited as
// district.delete.
func (s *RegistryService) DeleteDistrict(ctx context.Context, scope api.Scope, id int64, actor string, now time.Time) error {
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, fmt.Sprintf("district %d", id), districtMunicipality, id); err != nil {
			return err
		}
		var name string
		err := t.row(ctx, `SELECT name FROM districts WHERE id = ?`, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("district %d: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		var homes, decommissioned, users int
		if err := t.row(ctx, `SELECT COUNT(*), COUNT(decommissioned_at) FROM homes WHERE district_id = ?`, id).Scan(&homes, &decommissioned); err != nil {
			return err
		}
		if err := t.row(ctx, `SELECT COUNT(*) FROM user_districts WHERE district_id = ?`, id).Scan(&users); err != nil {
			return err
		}
		switch {
		case homes > 0:
			return fmt.Errorf("district %d: %w: %d homes are in it (%d of them decommissioned, kept for history); move them to another district first",
				id, api.ErrConflict, homes, decommissioned)
		case users > 0:
			return fmt.Errorf("district %d: %w: %d staff users are assigned to it; reassign them first", id, api.ErrConflict, users)
		}
		if _, err := t.exec(ctx, `DELETE FROM districts WHERE id = ?`, id); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "district.delete", districtObject(id), "")
	})
	if err != nil {
		return storeErr("delete district", err)
	}
	return nil
}

func homeObject(id vagt.HomeID) string { return "home/" + string(id) }

// Home returns one home; a home outside the scope is api.ErrOutOfScope, decided on the
// row read.
func (s *RegistryService) Home(ctx context.Context, scope api.Scope, id vagt.HomeID) (registry.Home, error) {
	h, err := s.home(ctx, id)
	if err != nil {
		return h, err
	}
	if !scope.Allows(h.Municipality, 0) {
		return registry.Home{}, fmt.Errorf("home %s: %w", id, api.ErrOutOfScope)
	}
	return h, nil
}

func (s *RegistryService) home(ctx context.Context, id vagt.HomeID) (registry.Home, error) {
	hs, err := s.homes(ctx, ` AND h.id = ?`, []any{string(id)})
	if err != nil {
		return registry.Home{}, err
	}
	if len(hs) == 0 {
		return registry.Home{}, fmt.Errorf("home %s: %w", id, api.ErrNotFound)
	}
	return hs[0], nil
}

// UpdateHome moves a home to another district of its municipality and/or gives it another
// citizen of its municipality (0: none). A decommissioned home may still move district (so
// that an emptied district can be deleted) but gets no citizen. Audited as home.update.
func (s *RegistryService) UpdateHome(ctx context.Context, scope api.Scope, id vagt.HomeID, c registry.HomeChange, actor string, now time.Time) (registry.Home, error) {
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, "home "+string(id), homeMunicipality, string(id)); err != nil {
			return err
		}
		var (
			district, mun  int64
			citizen, decom sql.NullInt64
		)
		err := t.row(ctx, `SELECT h.district_id, d.municipality, h.citizen_id, h.decommissioned_at FROM homes h JOIN districts d ON d.id = h.district_id
			WHERE h.id = ?`, string(id)).Scan(&district, &mun, &citizen, &decom)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("home %s: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		var changed []string
		if c.District != nil && *c.District != district {
			var m int64
			err := t.row(ctx, `SELECT municipality FROM districts WHERE id = ?`, *c.District).Scan(&m)
			if errors.Is(err, sql.ErrNoRows) {
				return &api.FieldError{Field: "district", Reason: fmt.Sprintf("no district %d", *c.District)}
			} else if err != nil {
				return err
			}
			if m != mun {
				return &api.FieldError{Field: "district", Reason: fmt.Sprintf("district %d is in municipality %d, the home in %d: a home moves within its municipality", *c.District, m, mun)}
			}
			if _, err := t.exec(ctx, `UPDATE homes SET district_id = ? WHERE id = ?`, *c.District, string(id)); err != nil {
				return err
			}
			changed = append(changed, "district")
		}
		if c.Citizen != nil && *c.Citizen != citizen.Int64 {
			var arg any
			if *c.Citizen != 0 {
				if decom.Valid {
					return fmt.Errorf("home %s: %w: it is decommissioned", id, api.ErrConflict)
				}
				var (
					m      int64
					erased sql.NullInt64
				)
				err := t.row(ctx, `SELECT municipality, erased_at FROM citizens WHERE id = ?`, *c.Citizen).Scan(&m, &erased)
				if errors.Is(err, sql.ErrNoRows) || (err == nil && m != mun) {
					return &api.FieldError{Field: "citizen", Reason: fmt.Sprintf("no citizen %d in municipality %d", *c.Citizen, mun)}
				} else if err != nil {
					return err
				}
				if erased.Valid {
					return &api.FieldError{Field: "citizen", Reason: fmt.Sprintf("citizen %d is erased", *c.Citizen)}
				}
				arg = *c.Citizen
			}
			if _, err := t.exec(ctx, `UPDATE homes SET citizen_id = ? WHERE id = ?`, arg, string(id)); err != nil {
				return err
			}
			changed = append(changed, "citizen")
		}
		if len(changed) == 0 {
			return nil
		}
		return t.audit(ctx, now, actor, "home.update", homeObject(id), fieldsDetail(changed))
	})
	if err != nil {
		return registry.Home{}, storeErr("update home", err)
	}
	return s.home(ctx, id)
}

// DecommissionHome takes a home out of use at `at`. It keeps its row, district, citizen,
// alerts and care plan; a home with a gateway still in use is a conflict (decommission
// the gateway first, so its devices get their removal date). Audited as home.decommission.
func (s *RegistryService) DecommissionHome(ctx context.Context, scope api.Scope, id vagt.HomeID, at time.Time, actor string, now time.Time) (registry.Home, error) {
	var invalid error // answered as it is, unwrapped
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, "home "+string(id), homeMunicipality, string(id)); err != nil {
			return err
		}
		if invalid = registry.ValidDecommission(at, now); invalid != nil {
			return invalid
		}
		var decom sql.NullInt64
		err := t.row(ctx, `SELECT decommissioned_at FROM homes WHERE id = ?`, string(id)).Scan(&decom)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("home %s: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		if decom.Valid {
			return fmt.Errorf("home %s: %w: it was decommissioned on %s", id, api.ErrConflict, fromMs(decom.Int64).Format(time.DateOnly))
		}
		var active []string
		err = t.each(ctx, `SELECT id FROM gateways WHERE home_id = ? AND decommissioned_at IS NULL ORDER BY id`, []any{string(id)}, func(r *sql.Rows) error {
			var g string
			err := r.Scan(&g)
			active = append(active, g)
			return err
		})
		if err != nil {
			return err
		}
		if len(active) > 0 {
			return fmt.Errorf("home %s: %w: gateways in use: %s; decommission them first", id, api.ErrConflict, strings.Join(active, ", "))
		}
		if _, err := t.exec(ctx, `UPDATE homes SET decommissioned_at = ? WHERE id = ?`, ms(at), string(id)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "home.decommission", homeObject(id), "")
	})
	if invalid != nil {
		return registry.Home{}, invalid
	}
	if err != nil {
		return registry.Home{}, storeErr("decommission home", err)
	}
	return s.home(ctx, id)
}

// UpdateCitizen corrects a citizen's personal data; an erased citizen is a conflict, one
// outside the scope api.ErrOutOfScope (decided before the change is validated, so a
// refusal tells nothing of the body). Audited as citizen.update with the names of the
// fields that changed, never the values.
func (s *RegistryService) UpdateCitizen(ctx context.Context, scope api.Scope, id int64, c registry.CitizenChange, actor string, now time.Time) (registry.Citizen, error) {
	var invalid error // answered as validCitizenChange says it, unwrapped
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.citizenInScope(ctx, scope, id); err != nil {
			return err
		}
		if invalid = validCitizenChange(c); invalid != nil {
			return invalid
		}
		var (
			name, address, note string
			erased              sql.NullInt64
		)
		err := t.row(ctx, `SELECT name, address, key_box_note, erased_at FROM citizens WHERE id = ?`, id).Scan(&name, &address, &note, &erased)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("citizen %d: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		if erased.Valid {
			return fmt.Errorf("citizen %d: %w: the citizen was erased", id, api.ErrConflict)
		}
		var changed []string
		for _, f := range []struct {
			field, column string
			to            *string
			from          string
		}{{"name", "name", c.Name, name}, {"address", "address", c.Address, address}, {"key_box_note", "key_box_note", c.KeyBoxNote, note}} {
			if f.to == nil || *f.to == f.from {
				continue
			}
			if _, err := t.exec(ctx, `UPDATE citizens SET `+f.column+` = ? WHERE id = ?`, *f.to, id); err != nil {
				return err
			}
			changed = append(changed, f.field)
		}
		if c.Contacts != nil {
			var have []api.Contact
			err := t.each(ctx, `SELECT name, phone, relation FROM contacts WHERE citizen_id = ? ORDER BY id`, []any{id}, func(r *sql.Rows) error {
				var ct api.Contact
				err := r.Scan(&ct.Name, &ct.Phone, &ct.Relation)
				have = append(have, ct)
				return err
			})
			if err != nil {
				return err
			}
			if !slices.Equal(have, *c.Contacts) {
				if _, err := t.exec(ctx, `DELETE FROM contacts WHERE citizen_id = ?`, id); err != nil {
					return err
				}
				for _, ct := range *c.Contacts {
					if _, err := t.exec(ctx, `INSERT INTO contacts (citizen_id, name, phone, relation) VALUES (?, ?, ?, ?)`, id, ct.Name, ct.Phone, ct.Relation); err != nil {
						return err
					}
				}
				changed = append(changed, "contacts")
			}
		}
		if len(changed) == 0 {
			return nil
		}
		return t.audit(ctx, now, actor, "citizen.update", citizenObject(id), fieldsDetail(changed))
	})
	if invalid != nil {
		return registry.Citizen{}, invalid
	}
	if err != nil {
		return registry.Citizen{}, storeErr("update citizen", err)
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

func validCitizenChange(c registry.CitizenChange) error {
	switch {
	case c.Name != nil && (strings.TrimSpace(*c.Name) == "" || len(*c.Name) > 200):
		return &api.FieldError{Field: "name", Reason: "must be 1-200 bytes"}
	case c.Address != nil && len(*c.Address) > 500:
		return &api.FieldError{Field: "address", Reason: "at most 500 bytes"}
	case c.KeyBoxNote != nil && len(*c.KeyBoxNote) > 500:
		return &api.FieldError{Field: "key_box_note", Reason: "at most 500 bytes"}
	}
	if c.Contacts != nil {
		if len(*c.Contacts) > 20 {
			return &api.FieldError{Field: "contacts", Reason: "at most 20"}
		}
		for i, ct := range *c.Contacts {
			if strings.TrimSpace(ct.Name) == "" || len(ct.Name) > 200 || len(ct.Phone) > 50 || len(ct.Relation) > 100 {
				return &api.FieldError{Field: fmt.Sprintf("contacts[%d]", i), Reason: "name 1-200 bytes, phone ≤ 50, relation ≤ 100"}
			}
		}
	}
	return nil
}

// each runs f on every row of query inside t.
func (t *tx) each(ctx context.Context, query string, args []any, f func(*sql.Rows) error) error {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
