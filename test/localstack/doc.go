// Package localstack starts real service processes — Mosquitto, InfluxDB 1.8,
// PostgreSQL, and a 3-node NATS cluster speaking MQTT (with a TCP balancer in
// front, as production has) — on free loopback ports in a temporary directory, waits
// until each answers, and stops them and removes their data again.
//
// Tests (through package stacktest) and `vagt-demo` use it, so that the
// code paths that talk to a broker or a database are exercised against the
// real thing rather than a fake.
//
// Every service runs as a child process in its own process group (so a
// Ctrl-C on the terminal reaches the parent first and the child is stopped
// cleanly) with a parent-death signal of SIGKILL (so a crashed test binary
// does not leave servers behind). A service can be stopped, killed and
// started again on the same port and data directory, which is what
// persistence and chaos tests need.
//
// The configurations favour speed over durability (PostgreSQL runs with
// fsync, synchronous_commit and full_page_writes off); they are meant for
// tests and demos only, never for data anyone wants to keep.
package localstack
