// Package security is the platform's security suite, run against the real api (and, for
// the lanes, Mosquitto and ingest): every route of the api's router × every role, inside
// and outside its municipality and district; tokens stored only as hashes; an audit entry
// for each read of personal data; security headers and body limits. The broker ACL with
// generated credentials and client certificates is tested in deploy/mosquitto.
//
// The suite is a set of tests; this file only documents it.
package security
