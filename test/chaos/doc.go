// Package chaos is the platform's chaos suite: the whole chain — emulated base units on
// pseudo-terminals → vagt-gateway processes with their bbolt spools → Mosquitto
// (persistence on), or with VAGT_CHAOS_BROKER=nats (`make test-chaos-cluster`) the 3-node
// NATS cluster as production runs it (TLS client certificates, a `vagt broker-auth` process
// beside each node authorizing every client), where the kill -9 of a node with its
// broker-auth, of a broker-auth alone, and a partition take the broker kill's place → the
// vagt ingest and vagt api processes → InfluxDB and PostgreSQL →
// the care staff's event stream — under steady load, while the suite kills (SIGKILL) and
// restarts each of those processes in turn, cuts a gateway's uplink for ten minutes of
// device time and fills a gateway's spool. At the end it reconciles what the devices
// produced with what was stored and streamed, and prints a table of faults, counts and
// alarm latencies.
//
// The suite is a test (go test ./test/chaos; the long run is `make test-chaos`); this
// file only documents it. The package also holds the restore drill (TestRestoreDrill,
// `make restore-drill`): docs/operations.md's backup and restore rehearsed with the same
// processes while alarms flow.
package chaos
