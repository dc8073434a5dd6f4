// Package api is the platform's HTTP side (vagt api): it consumes the alarm and status lanes
// itself, so alarms reach the care staff on duty even when InfluxDB or ingest is down; keeps
// alerts, the registry, users and the audit log in the SQL store; and serves the REST API,
// the live alert stream, statistics and the web pages.
package api
