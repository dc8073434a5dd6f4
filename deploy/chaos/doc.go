// Package chaos is the platform's chaos suite: the whole chain — emulated base units on
// pseudo-terminals → real gateways → Mosquitto (persistence on) → ingest and the api →
// InfluxDB and the SQL store → the care staff's event stream — under steady load, while
// the suite kills and restarts the services one after another, cuts a gateway's uplink and
// fills a gateway's spool. At the end it reconciles what the devices produced with what was
// stored and streamed, and prints a table of faults, counts and alarm latencies.
//
// The suite is a test (go test ./deploy/chaos; the long run is `make test-chaos`); this
// file only documents it.
package chaos
