// Package vagt is the domain model of the vagt platform and its CBOR wire format.
//
// A gateway in a citizen's home reads welfare-technology devices and sends readings
// (telemetry), alarms and its own status to the municipality's platform. This package
// defines those things — kinds of reading, alarm types and priorities, technology
// categories, the ids of gateways, devices and homes, the 98 Danish municipalities —
// and how they travel on the broker (see docs/wire.md). Every component imports this
// package; it imports none of them.
package vagt
