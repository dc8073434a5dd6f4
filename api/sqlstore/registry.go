package sqlstore

import (
	"context"
	"fmt"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// The registry here is the minimum that alerts need: who lives where, in which district,
// behind which gateway. The registry issue extends these tables and adds its API.

// CreateDistrict adds a district (a home-care team's area) to a municipality.
func (s *RegistryService) CreateDistrict(ctx context.Context, m vagt.MunicipalityCode, name string) (int64, error) {
	if err := m.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	var id int64
	err := s.inTx(ctx, func(t *tx) error {
		var n int
		if err := t.row(ctx, `SELECT COUNT(*) FROM districts WHERE municipality = ? AND name = ?`, int(m), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("district %q: %w: municipality %d has a district of that name", name, api.ErrConflict, m)
		}
		return t.row(ctx, `INSERT INTO districts (municipality, name) VALUES (?, ?) RETURNING id`, int(m), name).Scan(&id)
	})
	if err != nil {
		return 0, storeErr("create district", err)
	}
	return id, nil
}

// CreateCitizen adds a citizen with contact persons.
func (s *RegistryService) CreateCitizen(ctx context.Context, m vagt.MunicipalityCode, c api.Citizen) (int64, error) {
	if err := m.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	var id int64
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.row(ctx, `INSERT INTO citizens (municipality, name, address, key_box_note) VALUES (?, ?, ?, ?) RETURNING id`,
			int(m), c.Name, c.Address, c.KeyBoxNote).Scan(&id); err != nil {
			return err
		}
		for _, ct := range c.Contacts {
			if _, err := t.exec(ctx, `INSERT INTO contacts (citizen_id, name, phone, relation) VALUES (?, ?, ?, ?)`, id, ct.Name, ct.Phone, ct.Relation); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, storeErr("create citizen", err)
	}
	return id, nil
}

// CreateHome adds a home in a district; citizen may be 0.
func (s *RegistryService) CreateHome(ctx context.Context, id vagt.HomeID, district, citizen int64) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	var c any
	if citizen != 0 {
		c = citizen
	}
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO homes (id, district_id, citizen_id) VALUES (?, ?, ?)`, string(id), district, c)
		return err
	})
	if err != nil {
		return storeErr("create home", err)
	}
	return nil
}

// RegisterGateway installs a gateway in a home (keeping the link state of a gateway that
// reported before it was registered).
func (s *RegistryService) RegisterGateway(ctx context.Context, id vagt.GatewayID, home vagt.HomeID) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO gateways (id, home_id, municipality)
			VALUES (?, ?, (SELECT d.municipality FROM homes h JOIN districts d ON d.id = h.district_id WHERE h.id = ?))
			ON CONFLICT (id) DO UPDATE SET home_id = excluded.home_id, municipality = excluded.municipality`,
			string(id), string(home), string(home))
		return err
	})
	if err != nil {
		return storeErr("register gateway", err)
	}
	return nil
}

// RegisterDevice adds a device to a gateway with a label staff recognise ("bathroom pull cord").
func (s *RegistryService) RegisterDevice(ctx context.Context, id vagt.DeviceID, gw vagt.GatewayID, tech vagt.Technology, label string) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO devices (id, gateway_id, technology, label) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET gateway_id = excluded.gateway_id, technology = excluded.technology, label = excluded.label`,
			string(id), string(gw), int(tech), label)
		return err
	})
	if err != nil {
		return storeErr("register device", err)
	}
	return nil
}
