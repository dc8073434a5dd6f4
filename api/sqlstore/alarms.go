package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// Change says what an alarm event did to the alerts.
type Change string

// The changes.
const (
	ChangeRaised    Change = "raised"    // a new alert
	ChangeRepeated  Change = "repeated"  // folded into the open alert for the device and type
	ChangeReraised  Change = "reraised"  // a press folded into an acknowledged alert opened it again
	ChangeCleared   Change = "cleared"   // the gateway says the condition ended; the alert stays open
	ChangeDuplicate Change = "duplicate" // this event was received before: nothing changed
	ChangeIgnored   Change = "ignored"   // a clear for an alert that is already resolved or cleared
)

// IngestResult is what IngestAlarm did.
type IngestResult struct {
	Change Change
	Alert  alerts.Alert // zero for a clear that matched no alert
	// SeqReused: the gateway had sent different content under this seq before. The event
	// was taken as a new one; the caller counts and logs it.
	SeqReused bool
}

// IngestAlarm turns an alarm event into an alert, in one transaction: a redelivered event
// (same gateway, seq and content) changes nothing; different content under a seq seen
// before is taken as a new event and flagged (SeqReused); a raise folds into the unresolved
// alert of the same device and type, or opens a new one (unregistered gateways included: an
// alarm is never dropped for lack of registry data); a clear marks its alert cleared but
// leaves it open. An alarm whose details say "clock": "unsynced" is dated now, the time
// the platform received it; the gateway's time stays in its details (gateway_time).
func (s *AlertService) IngestAlarm(ctx context.Context, a *vagt.Alarm, now time.Time) (IngestResult, error) {
	digest, err := alerts.Digest(a)
	if err != nil {
		return IngestResult{}, storeErr("ingest alarm", err)
	}
	return s.ingestAlarm(ctx, a, now, digest)
}

// ReplayAlarm files an alarm event rebuilt from the alarm history (InfluxDB) after the
// store was restored from a backup: one this store has a receipt for, under any content, is
// a duplicate; one it has not becomes an alert like any alarm. Its receipt's digest is of
// what the history holds (alerts.ReplayDigest), so when the broker later redelivers the original
// (its details included), that is taken as a redelivery, while another device, type or
// clear under the seq is different content under a reused seq.
func (s *AlertService) ReplayAlarm(ctx context.Context, a *vagt.Alarm, now time.Time) (IngestResult, error) {
	return s.ingestAlarm(ctx, a, now, alerts.ReplayDigest(a))
}

func (s *DB) ingestAlarm(ctx context.Context, a *vagt.Alarm, now time.Time, digest string) (IngestResult, error) {
	var res IngestResult
	err := s.inTx(ctx, func(t *tx) error {
		res = IngestResult{}
		// setAlert records which alert this event became, on its receipt.
		setAlert := func(id int64) error {
			_, err := t.exec(ctx, `UPDATE alarm_receipts SET alert_id = ? WHERE gateway_id = ? AND seq = ?`, id, string(a.Gateway), int64(a.Seq))
			return err
		}
		r, err := t.exec(ctx, `INSERT INTO alarm_receipts (gateway_id, seq, clears, received_at, digest) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			string(a.Gateway), int64(a.Seq), int64(a.Clears), ms(now), digest)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var (
				id   sql.NullInt64
				seen string
			)
			if err := t.row(ctx, `SELECT alert_id, digest FROM alarm_receipts WHERE gateway_id = ? AND seq = ?`, string(a.Gateway), int64(a.Seq)).Scan(&id, &seen); err != nil {
				return err
			}
			if !alerts.Redelivery(seen, a, digest) {
				r, err := t.exec(ctx, `INSERT INTO alarm_receipt_reuses (gateway_id, seq, digest, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
					string(a.Gateway), int64(a.Seq), digest, ms(now))
				if err != nil {
					return err
				}
				n, err := r.RowsAffected()
				if err != nil {
					return err
				}
				if n == 1 { // new content: an event of its own
					res.SeqReused = true
					setAlert = func(id int64) error {
						_, err := t.exec(ctx, `UPDATE alarm_receipt_reuses SET alert_id = ? WHERE gateway_id = ? AND seq = ? AND digest = ?`,
							id, string(a.Gateway), int64(a.Seq), digest)
						return err
					}
					return t.apply(ctx, a, now, &res, setAlert)
				}
				// A redelivery of content seen under a reused seq.
				if err := t.row(ctx, `SELECT alert_id FROM alarm_receipt_reuses WHERE gateway_id = ? AND seq = ? AND digest = ?`,
					string(a.Gateway), int64(a.Seq), digest).Scan(&id); err != nil {
					return err
				}
			}
			res.Change = ChangeDuplicate
			if id.Valid {
				res.Alert, err = t.alert(ctx, id.Int64)
			}
			return err
		}
		return t.apply(ctx, a, now, &res, setAlert)
	})
	if err != nil {
		return IngestResult{}, storeErr("ingest alarm", err)
	}
	return res, nil
}

// apply raises or clears for a new event and records the alert it became with setAlert.
func (t *tx) apply(ctx context.Context, a *vagt.Alarm, now time.Time, res *IngestResult, setAlert func(int64) error) error {
	reused := res.SeqReused
	var err error
	if a.Clears != 0 {
		*res, err = t.clear(ctx, a, now)
	} else {
		r, change, err := t.prepareRaise(ctx, a, now) // absence, test mode: edges.go
		if err != nil || change != "" {
			*res = IngestResult{Change: change, SeqReused: reused}
			return err
		}
		r.at, r.details = alerts.ReceivedTime(a, now)
		r.press = true
		if *res, err = t.raise(ctx, r, now); err != nil {
			return err
		}
	}
	res.SeqReused = reused
	if err != nil || res.Alert.ID == 0 {
		return err
	}
	return setAlert(res.Alert.ID)
}

// AlarmDigest is the digest of a's receipt: alerts.Digest.
func AlarmDigest(a *vagt.Alarm) (string, error) { return alerts.Digest(a) }

type raise struct {
	gateway      vagt.GatewayID
	device       vagt.DeviceID
	typ          vagt.AlarmType
	prio         vagt.Priority
	municipality vagt.MunicipalityCode
	at           time.Time
	details      map[string]string
	test         bool // from a device in test mode
	// home, when set, files the alert under that home instead of the gateway's (a GPS
	// tracker has no gateway: api/sqlstore/gps.go).
	home vagt.HomeID
	// press: a person's alarm from the home (the alarm lane); folded into an acknowledged
	// alert it opens it again (rearm).
	press bool
}

// raiseOf is the raise of an alarm the platform makes itself (alerts.OfflineAlarm).
func raiseOf(a vagt.Alarm) raise {
	return raise{gateway: a.Gateway, device: a.Device, typ: a.Type, prio: a.Priority, municipality: a.Municipality, at: a.Time, details: a.Details}
}

// afterOpenAlertLookup, when set (by tests: export_test.go), runs in raise right after the
// lookup of the unresolved alert (id 0: none found), before the press is folded into it or
// a new alert is inserted, so a test can change the alerts from another connection there.
var afterOpenAlertLookup atomic.Pointer[func(s *DB, id int64)]

func (t *tx) raise(ctx context.Context, r raise, now time.Time) (IngestResult, error) {
	var id int64
	err := t.row(ctx, `SELECT id FROM alerts WHERE gateway_id = ? AND device_id = ? AND type = ? AND state <> 'resolved'`,
		string(r.gateway), string(r.device), int(r.typ)).Scan(&id)
	if h := afterOpenAlertLookup.Load(); h != nil && (err == nil || errors.Is(err, sql.ErrNoRows)) {
		(*h)(t.s, id)
	}
	switch {
	case err == nil:
		res, folded, err := t.fold(ctx, id, r, now)
		if err != nil || folded {
			return res, err
		}
		// Resolved since the lookup: the press is an alarm of its own (below).
	case !errors.Is(err, sql.ErrNoRows):
		return IngestResult{}, err
	}

	prio := alerts.PriorityOf(r.typ, r.prio)
	var (
		home     sql.NullString
		district sql.NullInt64
		mun      sql.NullInt64
	)
	// A decommissioned gateway's alarm is filed as unregistered: its old home may not be
	// where the box is now.
	if r.home != "" {
		err = t.row(ctx, `SELECT h.id, h.district_id, d.municipality FROM homes h JOIN districts d ON d.id = h.district_id WHERE h.id = ?`,
			string(r.home)).Scan(&home, &district, &mun)
	} else {
		err = t.row(ctx, `SELECT h.id, h.district_id, d.municipality FROM gateways g
		JOIN homes h ON h.id = g.home_id JOIN districts d ON d.id = h.district_id WHERE g.id = ? AND g.decommissioned_at IS NULL`,
			string(r.gateway)).Scan(&home, &district, &mun)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return IngestResult{}, err
	}
	municipality := int64(r.municipality)
	if mun.Valid {
		municipality = mun.Int64 // the registry knows better than the message
	}
	var details string
	if len(r.details) > 0 {
		b, err := json.Marshal(r.details)
		if err != nil {
			return IngestResult{}, err
		}
		details = string(b)
	}
	var escalateAt any
	if at, ok := t.s.policy.NextEscalation(prio, 0, now); ok {
		escalateAt = ms(at)
	}
	var districtArg, homeArg any
	if district.Valid {
		districtArg, homeArg = district.Int64, home.String
	}
	err = t.row(ctx, `INSERT INTO alerts (state, type, priority, gateway_id, device_id, municipality, district_id, home_id, registered,
		raised_at, last_at, count, escalation_level, escalate_at, details, created_at, test)
		VALUES ('open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?, ?, ?, ?) RETURNING id`,
		int(r.typ), int(prio), string(r.gateway), string(r.device), municipality, districtArg, homeArg, boolInt(home.Valid),
		ms(r.at), ms(r.at), escalateAt, details, ms(now), boolInt(r.test)).Scan(&id)
	if err != nil {
		return IngestResult{}, err
	}
	a, err := t.alert(ctx, id)
	if err != nil {
		return IngestResult{}, err
	}
	if err := t.widen(ctx, a, 0, now); err != nil { // the shift on duty: audience.go
		return IngestResult{}, err
	}
	return IngestResult{Change: ChangeRaised, Alert: a}, t.appendEvent(ctx, alerts.EventNew, string(ChangeRaised), a, now)
}

// fold folds r into the unresolved alert id that raise found, and re-arms it (Rearm);
// false when staff resolved it since the lookup (their transaction committed in between, on
// PostgreSQL at READ COMMITTED), so the caller opens a new alert instead: folded into a
// resolved alert, the press would reach nobody.
func (t *tx) fold(ctx context.Context, id int64, r raise, now time.Time) (IngestResult, bool, error) {
	// The repeat is written relative to the row (count + 1, the later last_at; a real
	// alarm folded into a test alert makes it real, never the other way), so two
	// replicas folding into one alert at once on PostgreSQL both count. The update
	// also locks the row, so what Rearm decides on below is the row as it is, and a
	// resolve waits for this transaction.
	res, err := t.exec(ctx, `UPDATE alerts SET count = count + 1, last_at = CASE WHEN last_at > ? THEN last_at ELSE ? END, cleared_at = NULL,
		test = CASE WHEN ? = 1 THEN test ELSE 0 END WHERE id = ? AND state <> 'resolved'`,
		ms(r.at), ms(r.at), boolInt(r.test), id)
	if err != nil {
		return IngestResult{}, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return IngestResult{}, false, err
	}
	a, err := t.alert(ctx, id)
	if err != nil {
		return IngestResult{}, false, err
	}
	if next, ok := t.s.policy.Rearm(a, r.press, now); ok {
		a, rearmed, err := t.rearm(ctx, a, next, now) // audience.go
		if err != nil {
			return IngestResult{}, false, err
		}
		if rearmed {
			return IngestResult{Change: ChangeReraised, Alert: a}, true, t.appendEvent(ctx, alerts.EventReraised, string(ChangeReraised), a, now)
		}
	}
	return IngestResult{Change: ChangeRepeated, Alert: a}, true, t.appendEvent(ctx, alerts.EventUpdated, string(ChangeRepeated), a, now)
}

// clear marks the alert of the raise that a.Clears names as cleared. When that raise was
// never seen (lost before it was installed, or arriving later), the unresolved alert of the
// same device and type stands for it.
func (t *tx) clear(ctx context.Context, a *vagt.Alarm, now time.Time) (IngestResult, error) {
	// The raise's alert only if it is of the clear's device and type: under a seq the
	// gateway reused, the receipt holds the first content's alert, another device's.
	var id sql.NullInt64
	err := t.row(ctx, `SELECT r.alert_id FROM alarm_receipts r JOIN alerts al ON al.id = r.alert_id
		WHERE r.gateway_id = ? AND r.seq = ? AND al.device_id = ? AND al.type = ?`,
		string(a.Gateway), int64(a.Clears), string(a.Device), int(a.Type)).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return IngestResult{}, err
	}
	if !id.Valid {
		err := t.row(ctx, `SELECT id FROM alerts WHERE gateway_id = ? AND device_id = ? AND type = ? AND state <> 'resolved'`,
			string(a.Gateway), string(a.Device), int(a.Type)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return IngestResult{Change: ChangeIgnored}, nil
		} else if err != nil {
			return IngestResult{}, err
		}
	}
	return t.markCleared(ctx, id.Int64, now)
}

func (t *tx) markCleared(ctx context.Context, id int64, now time.Time) (IngestResult, error) {
	r, err := t.exec(ctx, `UPDATE alerts SET cleared_at = ? WHERE id = ? AND cleared_at IS NULL AND state <> 'resolved'`, ms(now), id)
	if err != nil {
		return IngestResult{}, err
	}
	al, err := t.alert(ctx, id)
	if err != nil {
		return IngestResult{}, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return IngestResult{Change: ChangeIgnored, Alert: al}, nil
	}
	return IngestResult{Change: ChangeCleared, Alert: al}, t.appendEvent(ctx, alerts.EventUpdated, string(ChangeCleared), al, now)
}

// RecordStatus keeps a gateway's status and inventory (also of gateways the registry does
// not know), and marks its offline alert cleared when it is back online. The municipality
// a status names is kept only for a gateway in no home: the registry knows better, and a
// gateway must not move itself into another municipality's registry. A decommissioned
// gateway's status is ignored: it neither comes back online nor brings devices.
func (s *AlertService) RecordStatus(ctx context.Context, st *vagt.Status, now time.Time) error {
	_, err := s.RecordStatusSeen(ctx, st, now)
	return err
}

// StatusSeen is what RecordStatusSeen knew of the gateway before the status it recorded.
type StatusSeen struct {
	// Previous is the last time (the api's clock, as now) an online status of the gateway
	// was recorded before this one — whatever came after it (an offline status, a will,
	// silence): until about then the gateway was connected and subscribed. Zero when the
	// api never heard it online.
	Previous time.Time
	// Ignored: the status changed nothing (a decommissioned gateway's).
	Ignored bool
}

// RecordStatusSeen is RecordStatus, and says when the gateway was last heard online
// before: the downlink tells a gateway back online what it may have missed since then
// (downlink.Notifier.RetellGateway).
func (s *AlertService) RecordStatusSeen(ctx context.Context, st *vagt.Status, now time.Time) (StatusSeen, error) {
	var seen StatusSeen
	err := s.inTx(ctx, func(t *tx) error {
		seen = StatusSeen{} // a retried transaction starts again
		var decom, last sql.NullInt64
		if err := t.row(ctx, `SELECT decommissioned_at, last_seen FROM gateways WHERE id = ?`, string(st.Gateway)).Scan(&decom, &last); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if decom.Valid {
			seen.Ignored = true
			if _, logged := s.ignored.LoadOrStore(st.Gateway, struct{}{}); !logged {
				s.log.Warn("sqlstore: status of a decommissioned gateway ignored (logged once); revoke its broker login", "gateway", st.Gateway)
			}
			return nil
		}
		if last.Valid {
			seen.Previous = fromMs(last.Int64)
		}
		var offlineSince any
		if !st.Online {
			offlineSince = ms(now)
		}
		_, err := t.exec(ctx, `INSERT INTO gateways (id, municipality, online, last_seen, offline_since, heartbeat_s, software)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET
				municipality = CASE WHEN excluded.municipality > 0 AND gateways.home_id IS NULL THEN excluded.municipality ELSE gateways.municipality END,
				online = excluded.online,
				last_seen = CASE WHEN excluded.online = 1 THEN excluded.last_seen ELSE gateways.last_seen END,
				offline_since = CASE WHEN excluded.online = 1 THEN NULL ELSE COALESCE(gateways.offline_since, excluded.offline_since) END,
				heartbeat_s = CASE WHEN excluded.heartbeat_s > 0 THEN excluded.heartbeat_s ELSE gateways.heartbeat_s END,
				software = CASE WHEN excluded.software <> '' THEN excluded.software ELSE gateways.software END`,
			string(st.Gateway), int(st.Municipality), boolInt(st.Online), ms(now), offlineSince,
			int(st.Heartbeat/time.Second), st.Software)
		if err != nil {
			return err
		}
		for _, d := range st.Inventory {
			var seen any
			if !d.LastSeen.IsZero() {
				seen = ms(d.LastSeen)
			}
			if _, err := t.exec(ctx, `INSERT INTO devices (id, gateway_id, technology, last_seen, battery) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET gateway_id = excluded.gateway_id, technology = excluded.technology,
					last_seen = excluded.last_seen, battery = excluded.battery`,
				string(d.Device), string(st.Gateway), int(d.Technology), seen, d.Battery); err != nil {
				return err
			}
		}
		if !st.Online {
			return nil
		}
		var id int64
		err = t.row(ctx, `SELECT id FROM alerts WHERE gateway_id = ? AND device_id = ? AND type = ? AND state <> 'resolved'`,
			string(st.Gateway), string(st.Gateway), int(vagt.AlarmGatewayOffline)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		_, err = t.markCleared(ctx, id, now)
		return err
	})
	if err != nil {
		return StatusSeen{}, storeErr(fmt.Sprintf("record status of %s", st.Gateway), err)
	}
	return seen, nil
}
