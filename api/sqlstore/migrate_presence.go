package sqlstore

// migrationPresence is migration 12 (migrate.go): the assignee of an alert and the times of
// their steps, when they missed a deadline, and alert_steps, the history the timeline shows
// (a take handed back or taken over is kept there, not only in the audit log).
const migrationPresence = `
ALTER TABLE alerts ADD COLUMN assignee TEXT;
ALTER TABLE alerts ADD COLUMN assignee_user BIGINT;
ALTER TABLE alerts ADD COLUMN taken_at BIGINT;
ALTER TABLE alerts ADD COLUMN enroute_at BIGINT;
ALTER TABLE alerts ADD COLUMN arrived_at BIGINT;
ALTER TABLE alerts ADD COLUMN overdue_at BIGINT;
CREATE TABLE alert_steps (
	id {{id}},
	alert_id BIGINT NOT NULL REFERENCES alerts(id),
	at BIGINT NOT NULL,
	step TEXT NOT NULL,
	actor TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_steps_alert ON alert_steps (alert_id, id);
`
