// Package replicas tests the platform's replicas on the clustered broker (issue 20 item 3):
// two `vagt api` processes on one PostgreSQL and the 3-node NATS cluster, one killed -9
// while alarms arrive. The test builds cmd/vagt and runs it as processes; see
// replicas_test.go. docs/scaling.md, "Stage 3", says how ingest replicas would split
// telemetry on NATS.
package replicas
