// Package replicas tests the platform's replicas on the clustered broker (issue 20 item 3):
// two `vagt api` processes on one PostgreSQL and the 3-node NATS cluster, one killed -9
// while alarms arrive (replicas_test.go); three `vagt ingest --partition k` processes, one
// killed -9 under load (ingest_test.go); the partition split itself (partition_test.go).
// The tests build cmd/vagt and run it as processes. bench/ measures 1, 2, 3 ingest
// replicas. docs/scaling.md, "Stage 3", says how ingest replicas would split
// telemetry on NATS.
package replicas
