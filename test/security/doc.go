// Package security is the platform's security suite, run against the real api (and, for
// the lanes, Mosquitto, ingest, InfluxDB and a real gateway uplink): every route of the
// api's router × every role, inside and outside its municipality and district, with the
// exact status each gets (an object outside the caller's scope answers 404 like a missing
// one; a role with no business on a route 403); tokens listed, revoked and re-issued,
// revoked ones refused; /metrics only to the scraper's token; lists and the live stream holding only their scope; tokens
// stored only as hashes; an audit entry for each read of personal data; security headers
// and body limits; TLS with client certificates end to end (the CN is the broker user,
// the production ACL holds each gateway to its own id, spoofed payloads are rejected,
// missing, foreign and expired certificates are refused). The broker's production
// configuration itself (password listener, service users) is tested in deploy/mosquitto.
//
// The suite is a set of tests; this file only documents it.
package security
