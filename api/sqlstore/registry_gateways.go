package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/registry"
)

// Gateways after provisioning: moved, given new credentials, decommissioned (see
// registry_changes.go for what decommissioning keeps).

func gatewayObject(id vagt.GatewayID) string { return "gateway/" + string(id) }

// RegistryGateway returns one gateway as the registry shows it.
func (s *RegistryService) RegistryGateway(ctx context.Context, id vagt.GatewayID) (registry.Gateway, error) {
	gs, err := s.gateways(ctx, ` AND id = ?`, []any{string(id)})
	if err != nil {
		return registry.Gateway{}, err
	}
	if len(gs) == 0 {
		return registry.Gateway{}, fmt.Errorf("gateway %s: %w", id, api.ErrNotFound)
	}
	return gs[0], nil
}

// gatewayInUse reads a gateway that must be provisioned and not decommissioned.
func (t *tx) gatewayInUse(ctx context.Context, id vagt.GatewayID) (home string, mun int64, err error) {
	var (
		h     sql.NullString
		decom sql.NullInt64
	)
	err = t.row(ctx, `SELECT home_id, municipality, decommissioned_at FROM gateways WHERE id = ?`, string(id)).Scan(&h, &mun, &decom)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", 0, fmt.Errorf("gateway %s: %w", id, api.ErrNotFound)
	case err != nil:
		return "", 0, err
	case decom.Valid:
		return "", 0, fmt.Errorf("gateway %s: %w: it was decommissioned on %s", id, api.ErrConflict, fromMs(decom.Int64).Format(time.DateOnly))
	case !h.Valid:
		return "", 0, fmt.Errorf("gateway %s: %w: it reported but is not provisioned in a home (POST /api/v1/gateways)", id, api.ErrConflict)
	}
	return h.String, mun, nil
}

// UpdateGateway moves a gateway (with its devices) to another home of its municipality
// that is in use. Audited as gateway.update.
func (s *RegistryService) UpdateGateway(ctx context.Context, scope api.Scope, id vagt.GatewayID, c registry.GatewayChange, actor string, now time.Time) (registry.Gateway, error) {
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, "gateway "+string(id), gatewayMunicipality, string(id)); err != nil {
			return err
		}
		home, mun, err := t.gatewayInUse(ctx, id)
		if err != nil {
			return err
		}
		if c.Home == nil || string(*c.Home) == home {
			return nil
		}
		var (
			m     int64
			decom sql.NullInt64
		)
		err = t.row(ctx, `SELECT d.municipality, h.decommissioned_at FROM homes h JOIN districts d ON d.id = h.district_id WHERE h.id = ?`,
			string(*c.Home)).Scan(&m, &decom)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return &api.FieldError{Field: "home", Reason: fmt.Sprintf("no home %q", *c.Home)}
		case err != nil:
			return err
		case m != mun:
			return &api.FieldError{Field: "home", Reason: fmt.Sprintf("home %s is in municipality %d, the gateway in %d: a gateway moves within its municipality", *c.Home, m, mun)}
		case decom.Valid:
			return fmt.Errorf("home %s: %w: it is decommissioned", *c.Home, api.ErrConflict)
		}
		if _, err := t.exec(ctx, `UPDATE gateways SET home_id = ? WHERE id = ?`, string(*c.Home), string(id)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "gateway.update", gatewayObject(id), fieldsDetail([]string{"home"}))
	})
	if err != nil {
		return registry.Gateway{}, storeErr("update gateway", err)
	}
	return s.RegistryGateway(ctx, id)
}

// RotateGatewayCredentials replaces a gateway's password hash (the new password is the
// caller's to show once). Audited as gateway.credentials.
func (s *RegistryService) RotateGatewayCredentials(ctx context.Context, scope api.Scope, id vagt.GatewayID, secretHash, actor string, now time.Time) (registry.Gateway, error) {
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, "gateway "+string(id), gatewayMunicipality, string(id)); err != nil {
			return err
		}
		if _, _, err := t.gatewayInUse(ctx, id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE gateways SET secret_hash = ?, provisioned_at = ? WHERE id = ?`, secretHash, ms(now), string(id)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "gateway.credentials", gatewayObject(id), "")
	})
	if err != nil {
		return registry.Gateway{}, storeErr("rotate gateway credentials", err)
	}
	return s.RegistryGateway(ctx, id)
}

// DecommissionGateway takes a gateway out of use at `at`: its password hash is deleted,
// its installed devices get `at` as removed_at (adoption statistics count them as
// removals), devices it reported that nobody registered are dropped, and its open
// gateway_offline alert is resolved (it was unplugged on purpose). It keeps its home for
// history; from now on the api ignores its status and files its alarms as unregistered
// (never dropped). The broker's password file is the operator's: see the result's Broker.
// Audited as gateway.decommission.
func (s *RegistryService) DecommissionGateway(ctx context.Context, scope api.Scope, id vagt.GatewayID, at time.Time, actor string, now time.Time) (registry.GatewayDecommission, error) {
	res := registry.GatewayDecommission{DevicesRemoved: []vagt.DeviceID{}, Broker: registry.BrokerRevocation(id)}
	var invalid error // answered as it is, unwrapped
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, "gateway "+string(id), gatewayMunicipality, string(id)); err != nil {
			return err
		}
		if invalid = registry.ValidDecommission(at, now); invalid != nil {
			return invalid
		}
		res.DevicesRemoved, res.PendingDropped, res.OfflineResolved = []vagt.DeviceID{}, 0, 0
		var decom sql.NullInt64
		err := t.row(ctx, `SELECT decommissioned_at FROM gateways WHERE id = ?`, string(id)).Scan(&decom)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("gateway %s: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		if decom.Valid {
			return fmt.Errorf("gateway %s: %w: it was decommissioned on %s", id, api.ErrConflict, fromMs(decom.Int64).Format(time.DateOnly))
		}
		var late string
		err = t.each(ctx, `SELECT id, installed_at FROM devices WHERE gateway_id = ? AND installed_at IS NOT NULL AND removed_at IS NULL ORDER BY id`,
			[]any{string(id)}, func(r *sql.Rows) error {
				var (
					d         string
					installed int64
				)
				if err := r.Scan(&d, &installed); err != nil {
					return err
				}
				if installed > ms(at) && late == "" {
					late = d
				}
				res.DevicesRemoved = append(res.DevicesRemoved, vagt.DeviceID(d))
				return nil
			})
		if err != nil {
			return err
		}
		if late != "" {
			return &api.FieldError{Field: "decommissioned_at", Reason: fmt.Sprintf("is before device %s was installed", late)}
		}
		if _, err := t.exec(ctx, `UPDATE devices SET removed_at = ? WHERE gateway_id = ? AND installed_at IS NOT NULL AND removed_at IS NULL`,
			ms(at), string(id)); err != nil {
			return err
		}
		r, err := t.exec(ctx, `DELETE FROM devices WHERE gateway_id = ? AND installed_at IS NULL`, string(id))
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		res.PendingDropped = int(n)
		if _, err := t.exec(ctx, `UPDATE gateways SET decommissioned_at = ?, secret_hash = '', online = 0 WHERE id = ?`, ms(at), string(id)); err != nil {
			return err
		}
		var offline int64
		err = t.row(ctx, `SELECT id FROM alerts WHERE gateway_id = ? AND device_id = ? AND type = ? AND state <> 'resolved'`,
			string(id), string(id), int(vagt.AlarmGatewayOffline)).Scan(&offline)
		if err == nil {
			if _, err := t.resolve(ctx, offline, actor, nil, alerts.OutcomeTechnicalFault, "gateway decommissioned; resolved with it", now); err != nil {
				return err
			}
			res.OfflineResolved = offline
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return t.audit(ctx, now, actor, "gateway.decommission", gatewayObject(id), fmt.Sprintf("devices_removed=%d pending_dropped=%d", len(res.DevicesRemoved), res.PendingDropped))
	})
	if invalid != nil {
		return res, invalid
	}
	if err != nil {
		return res, storeErr("decommission gateway", err)
	}
	res.Gateway, err = s.RegistryGateway(ctx, id)
	return res, err
}

// GatewayPasswordHash returns a provisioned gateway's password hash (Mosquitto's $7$
// format) for the broker's password file; audited for actor. api.ErrNotFound when the
// gateway has none (unknown, decommissioned, or on certificates).
func (s *RegistryService) GatewayPasswordHash(ctx context.Context, id vagt.GatewayID, actor string, now time.Time) (string, error) {
	var hash string
	err := s.inTx(ctx, func(t *tx) error {
		err := t.row(ctx, `SELECT secret_hash FROM gateways WHERE id = ?`, string(id)).Scan(&hash)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && hash == "") {
			return fmt.Errorf("gateway %s has no password: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "gateway.password_hash.read", "gateway/"+string(id), "")
	})
	if err != nil {
		return "", storeErr("gateway password hash", err)
	}
	return hash, nil
}
