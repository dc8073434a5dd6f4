package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
)

// migrations are applied in order, each once, in a transaction. Never edit one that has
// shipped: append a new one. {{id}} is an auto-increment primary key whose values are never
// reused (events rely on it), {{bool}} a 0/1 integer.
var migrations = []string{
	// 1: registry, alerts, events, users, tokens, audit.
	`
CREATE TABLE municipalities (
	code INTEGER PRIMARY KEY,
	name TEXT NOT NULL
);
CREATE TABLE districts (
	id {{id}},
	municipality INTEGER NOT NULL REFERENCES municipalities(code),
	name TEXT NOT NULL,
	UNIQUE (municipality, name)
);
CREATE TABLE citizens (
	id {{id}},
	municipality INTEGER NOT NULL REFERENCES municipalities(code),
	name TEXT NOT NULL,
	address TEXT NOT NULL DEFAULT '',
	key_box_note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE contacts (
	id {{id}},
	citizen_id BIGINT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	phone TEXT NOT NULL DEFAULT '',
	relation TEXT NOT NULL DEFAULT ''
);
CREATE TABLE homes (
	id TEXT PRIMARY KEY,
	district_id BIGINT NOT NULL REFERENCES districts(id),
	citizen_id BIGINT REFERENCES citizens(id)
);
CREATE TABLE gateways (
	id TEXT PRIMARY KEY,
	home_id TEXT REFERENCES homes(id),
	municipality INTEGER NOT NULL DEFAULT 0,
	online {{bool}},
	last_seen BIGINT,
	offline_since BIGINT,
	heartbeat_s INTEGER NOT NULL DEFAULT 0,
	software TEXT NOT NULL DEFAULT ''
);
CREATE TABLE devices (
	id TEXT PRIMARY KEY,
	gateway_id TEXT NOT NULL REFERENCES gateways(id),
	technology INTEGER NOT NULL DEFAULT 0,
	label TEXT NOT NULL DEFAULT '',
	last_seen BIGINT,
	battery INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX devices_gateway ON devices (gateway_id);

CREATE TABLE alerts (
	id {{id}},
	state TEXT NOT NULL,
	type INTEGER NOT NULL,
	priority INTEGER NOT NULL,
	gateway_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	municipality INTEGER NOT NULL,
	district_id BIGINT,
	home_id TEXT,
	registered {{bool}},
	raised_at BIGINT NOT NULL,
	last_at BIGINT NOT NULL,
	count INTEGER NOT NULL DEFAULT 1,
	cleared_at BIGINT,
	acked_at BIGINT,
	acked_by TEXT,
	resolved_at BIGINT,
	resolved_by TEXT,
	outcome TEXT,
	escalation_level INTEGER NOT NULL DEFAULT 0,
	escalate_at BIGINT,
	details TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);
-- Flood control: at most one unresolved alert per device and type; repeats fold into it.
CREATE UNIQUE INDEX alerts_one_open ON alerts (gateway_id, device_id, type) WHERE state <> 'resolved';
CREATE INDEX alerts_state ON alerts (state, id);
CREATE INDEX alerts_district ON alerts (district_id, id);
CREATE INDEX alerts_municipality ON alerts (municipality, id);
CREATE INDEX alerts_escalate ON alerts (escalate_at) WHERE escalate_at IS NOT NULL;

-- One row per alarm event received: (gateway, seq) makes a redelivery a no-op.
CREATE TABLE alarm_receipts (
	gateway_id TEXT NOT NULL,
	seq BIGINT NOT NULL,
	alert_id BIGINT REFERENCES alerts(id),
	clears BIGINT NOT NULL DEFAULT 0,
	received_at BIGINT NOT NULL,
	PRIMARY KEY (gateway_id, seq)
);
CREATE TABLE alert_notes (
	id {{id}},
	alert_id BIGINT NOT NULL REFERENCES alerts(id),
	at BIGINT NOT NULL,
	author TEXT NOT NULL,
	text TEXT NOT NULL
);
CREATE INDEX alert_notes_alert ON alert_notes (alert_id);
CREATE TABLE alert_escalations (
	alert_id BIGINT NOT NULL REFERENCES alerts(id),
	level INTEGER NOT NULL,
	tier TEXT NOT NULL,
	at BIGINT NOT NULL,
	PRIMARY KEY (alert_id, level)
);
-- The live stream's log: ids increase in commit order (see appendEvent).
CREATE TABLE events (
	id {{id}},
	at BIGINT NOT NULL,
	kind TEXT NOT NULL,
	alert_id BIGINT NOT NULL,
	municipality INTEGER NOT NULL,
	district_id BIGINT,
	data TEXT NOT NULL
);

CREATE TABLE users (
	id {{id}},
	name TEXT NOT NULL UNIQUE,
	role TEXT NOT NULL,
	municipality INTEGER,
	created_at BIGINT NOT NULL
);
CREATE TABLE user_districts (
	user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	district_id BIGINT NOT NULL REFERENCES districts(id),
	PRIMARY KEY (user_id, district_id)
);
CREATE TABLE tokens (
	hash TEXT PRIMARY KEY,
	user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT,
	revoked_at BIGINT
);
CREATE TABLE audit (
	id {{id}},
	at BIGINT NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	object TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_object ON audit (object, id);
{{audit_append_only}}
`,
	// 2: the registry proper (regions, installation dates, gateway credentials, citizens'
	// own logins, erasure), anonymous counts kept after an erasure, per-municipality
	// telemetry retention, anonymisation of old alert records.
	`
ALTER TABLE municipalities ADD COLUMN region INTEGER NOT NULL DEFAULT 0;
ALTER TABLE municipalities ADD COLUMN telemetry_retention_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE citizens ADD COLUMN registered_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE citizens ADD COLUMN erased_at BIGINT;
ALTER TABLE gateways ADD COLUMN secret_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE gateways ADD COLUMN provisioned_at BIGINT;
ALTER TABLE devices ADD COLUMN installed_at BIGINT;
ALTER TABLE devices ADD COLUMN removed_at BIGINT;
CREATE INDEX devices_installed ON devices (installed_at);
CREATE INDEX districts_municipality ON districts (municipality);
CREATE INDEX citizens_municipality ON citizens (municipality);
CREATE INDEX alerts_raised ON alerts (municipality, raised_at);
ALTER TABLE alerts ADD COLUMN anonymised_at BIGINT;
CREATE TABLE citizen_users (
	user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	citizen_id BIGINT NOT NULL REFERENCES citizens(id)
);
`,
	// 3: care plans: each home's configuration (the settings staff wrote and what they
	// mean with the defaults filled in), its history, and what each gateway runs.
	`
CREATE TABLE home_configs (
	home_id TEXT PRIMARY KEY REFERENCES homes(id),
	version BIGINT NOT NULL,
	settings TEXT NOT NULL,
	effective TEXT NOT NULL,
	changed_at BIGINT NOT NULL,
	changed_by TEXT NOT NULL
);
CREATE TABLE home_config_history (
	home_id TEXT NOT NULL REFERENCES homes(id),
	version BIGINT NOT NULL,
	settings TEXT NOT NULL,
	effective TEXT NOT NULL,
	changed_at BIGINT NOT NULL,
	changed_by TEXT NOT NULL,
	PRIMARY KEY (home_id, version)
);
CREATE TABLE gateway_configs (
	gateway_id TEXT PRIMARY KEY,
	applied BIGINT NOT NULL DEFAULT 0,
	refused TEXT NOT NULL DEFAULT '',
	reported_at BIGINT,
	published BIGINT NOT NULL DEFAULT 0,
	published_at BIGINT
);
`,
	// 4: decommissioning: a home or gateway taken out of use keeps its row (alerts,
	// statistics and care plans refer to it) and gets the date it went out of use.
	`
ALTER TABLE homes ADD COLUMN decommissioned_at BIGINT;
ALTER TABLE gateways ADD COLUMN decommissioned_at BIGINT;
`,
	// 5: the daily roll-up of which devices reported (api/rollup, docs/statistics.md): one
	// row per local calendar month and device, bit d-1 of days set when it sent a reading
	// on local day d; the days rolled up; gateways erased while a roll-up ran.
	`
CREATE TABLE device_activity (
	month INTEGER NOT NULL,
	municipality INTEGER NOT NULL,
	gateway_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	days BIGINT NOT NULL,
	PRIMARY KEY (month, municipality, gateway_id, device_id)
);
CREATE INDEX device_activity_municipality ON device_activity (municipality, month);
CREATE INDEX device_activity_gateway ON device_activity (gateway_id);
CREATE TABLE activity_days (
	day INTEGER PRIMARY KEY,
	rolled_at BIGINT NOT NULL,
	devices INTEGER NOT NULL
);
CREATE TABLE activity_forgotten (
	id {{id}},
	gateway_id TEXT NOT NULL,
	at BIGINT NOT NULL
);
`,
	// 6: everyday edges (docs/alerts.md): a home's absence ("away until") kept from its care
	// plan for the alarm lane and the console; devices in test mode and when they were last
	// tested; alerts marked test ("prøvealarm"), kept out of the response statistics.
	`
ALTER TABLE home_configs ADD COLUMN away_from BIGINT;
ALTER TABLE home_configs ADD COLUMN away_until BIGINT;
ALTER TABLE devices ADD COLUMN test_until BIGINT;
ALTER TABLE devices ADD COLUMN test_by TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_tested_at BIGINT;
ALTER TABLE alerts ADD COLUMN test {{bool}};
`,
	// 7: a digest of each alarm event with its receipt, so a redelivery (same digest) is
	// told from different content under a seq the gateway used before (a wiped spool, a
	// clock reset); such an event is taken as its own, and kept here so that its own
	// redeliveries are no-ops too. Receipts from before have digest ''.
	`
ALTER TABLE alarm_receipts ADD COLUMN digest TEXT NOT NULL DEFAULT '';
CREATE TABLE alarm_receipt_reuses (
	gateway_id TEXT NOT NULL,
	seq BIGINT NOT NULL,
	digest TEXT NOT NULL,
	alert_id BIGINT REFERENCES alerts(id),
	received_at BIGINT NOT NULL,
	PRIMARY KEY (gateway_id, seq, digest)
);
`,
	// 8: issue 22: the audit log refuses an insert over an existing row (SQLite's INSERT OR
	// REPLACE deletes without firing delete triggers) and, on PostgreSQL, TRUNCATE, and
	// chains each new row to the one before (audit.go); tokens get an id to be listed and
	// revoked by, who issued them, and a note; citizens' one-time activation codes.
	`
{{audit_no_replace}}
ALTER TABLE audit ADD COLUMN chain TEXT NOT NULL DEFAULT '';
{{tokens_id}}
ALTER TABLE tokens ADD COLUMN issued_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN note TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_user ON tokens (user_id);
CREATE TABLE activation_codes (
	hash TEXT PRIMARY KEY,
	citizen_id BIGINT NOT NULL REFERENCES citizens(id),
	issued_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at BIGINT
);
`,
	// 9: night supervision (docs/night-supervision.md): every night check made or missed,
	// one per home and due time; who, when, the state seen and the decision.
	`
CREATE TABLE night_checks (
	id {{id}},
	home_id TEXT NOT NULL REFERENCES homes(id),
	municipality INTEGER NOT NULL,
	due_at BIGINT NOT NULL,
	checked_at BIGINT NOT NULL,
	actor TEXT NOT NULL,
	decision TEXT NOT NULL,
	grade TEXT NOT NULL,
	state TEXT NOT NULL,
	note TEXT NOT NULL DEFAULT '',
	alert_id BIGINT,
	missed {{bool}},
	missed_alert_id BIGINT,
	UNIQUE (home_id, due_at)
);
CREATE INDEX night_checks_municipality ON night_checks (municipality, due_at);
`,
	// 10: GPS trackers (docs/gps.md): each tracker's home and state, the homes' safe zones,
	// and the positions (personal data, deleted after the retention period); the Danish days
	// on which each tracker reported (no position: what the statistics count as active).
	`
CREATE TABLE gps_trackers (
	id TEXT PRIMARY KEY,
	home_id TEXT REFERENCES homes(id),
	municipality INTEGER NOT NULL DEFAULT 0,
	key_hash TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	last_at BIGINT,
	last_seen BIGINT,
	battery INTEGER,
	outside {{bool}},
	battery_low {{bool}}
);
CREATE TABLE gps_zones (
	home_id TEXT PRIMARY KEY REFERENCES homes(id),
	zones TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	updated_by TEXT NOT NULL
);
CREATE TABLE gps_positions (
	tracker_id TEXT NOT NULL REFERENCES gps_trackers(id) ON DELETE CASCADE,
	at BIGINT NOT NULL,
	lat DOUBLE PRECISION NOT NULL,
	lon DOUBLE PRECISION NOT NULL,
	acc DOUBLE PRECISION NOT NULL,
	battery INTEGER,
	received_at BIGINT NOT NULL,
	PRIMARY KEY (tracker_id, at)
);
CREATE INDEX gps_positions_received ON gps_positions (received_at);
CREATE TABLE gps_tracker_days (
	tracker_id TEXT NOT NULL,
	day TEXT NOT NULL,
	municipality INTEGER NOT NULL,
	PRIMARY KEY (tracker_id, day)
);
`,
	// 11: duty rosters and the audience escalation widens (roster.go).
	rosterMigration,
	// 12: presence (docs/alerts.md, "Presence"): who said "I'll go", "on my way", "arrived",
	// and each step's history for the timeline.
	migrationPresence,
	// 13: the citizen's own access: identity hashes, relatives' grants, erasure requests
	// (relatives.go, docs/citizen.md).
	migrationCitizen,
	// 14: what a gateway back online missed (GatewayEventsSince): its alerts by gateway,
	// open or resolved since, and each alert's latest event.
	`
CREATE INDEX IF NOT EXISTS alerts_gateway_resolved ON alerts (gateway_id, resolved_at);
CREATE INDEX IF NOT EXISTS events_alert ON events (alert_id, id);
`,
}

var dialectText = map[dialect]map[string]string{
	sqlite: {
		"{{id}}":   "INTEGER PRIMARY KEY AUTOINCREMENT",
		"{{bool}}": "INTEGER NOT NULL DEFAULT 0",
		"{{audit_append_only}}": `
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`,
		"{{audit_no_replace}}": `
CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit WHEN EXISTS (SELECT 1 FROM audit WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`,
		// SQLite cannot add a key column: the table is rebuilt, ids given in hash order.
		"{{tokens_id}}": `
CREATE TABLE tokens_v6 (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	hash TEXT NOT NULL UNIQUE,
	user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT,
	revoked_at BIGINT
);
INSERT INTO tokens_v6 (hash, user_id, created_at, expires_at, revoked_at)
	SELECT hash, user_id, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at, hash;
DROP TABLE tokens;
ALTER TABLE tokens_v6 RENAME TO tokens;`,
	},
	postgres: {
		"{{id}}":   "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
		"{{bool}}": "INTEGER NOT NULL DEFAULT 0",
		"{{audit_append_only}}": `
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END; $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();`,
		// An insert over an existing id already fails on the primary key; TRUNCATE fires no
		// row trigger.
		"{{audit_no_replace}}": `
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();`,
		"{{tokens_id}}": `
ALTER TABLE tokens ADD COLUMN id BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE;`,
	},
}

// migrate applies the migrations this database has not seen. On PostgreSQL an advisory
// lock keeps replicas that start together from racing.
func (s *DB) migrate(ctx context.Context) error {
	err := s.tryTx(ctx, func(t *tx) error {
		if s.dialect == postgres {
			if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(7260001)`); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return err
		}
		var have int
		if err := t.row(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return err
		}
		if have > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this program's %d", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			text := migrations[v-1]
			for k, r := range dialectText[s.dialect] {
				text = strings.ReplaceAll(text, k, r)
			}
			if err := s.execScript(ctx, t, text); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := t.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, ms(time.Now())); err != nil {
				return err
			}
			s.log.Info("sqlstore: migrated", "version", v)
		}
		for _, m := range vagt.Municipalities() {
			if _, err := t.exec(ctx, `INSERT INTO municipalities (code, name, region) VALUES (?, ?, ?)
				ON CONFLICT (code) DO UPDATE SET name = excluded.name, region = excluded.region`, int(m.Code), m.Name, int(m.Region)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// execScript runs a migration in one Exec: both drivers take a script of several
// statements when it has no arguments.
func (s *DB) execScript(ctx context.Context, t *tx, text string) error {
	_, err := t.ExecContext(ctx, text)
	return err
}
