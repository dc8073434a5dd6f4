// Package ingest is the telemetry store path (vagt ingest): it consumes telemetry and alarm
// messages from the platform broker (a direct subscription by default; a shared subscription
// group for replicas, with a broker that keeps it across restarts), validates them with the wire
// decoders, writes them to InfluxDB in batches, and acknowledges each message, in arrival
// order, only after InfluxDB accepted every point it carries.
package ingest
