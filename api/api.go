// Package api is the api's vocabulary and contracts, the way benbjohnson/wtf's root package
// is: the errors callers decide on, the caller's Scope and Principal, the Clock, the
// registry's words (Citizen, Contact) and the small service interfaces by domain that the
// implementations (api/sqlstore, api/stats, ...) satisfy and the consumers (api/httpapi, ...)
// call. Alert words (Alert, State, Event, Policy, Feed) live in api/alerts.
//
// It imports nothing of the api's own. The wiring that builds the running api from these
// parts is api/server; cmd/vagt starts it.
package api

import _ "embed"

// OpenAPI is the HTTP API's description, served at /openapi.yaml: the contract with the
// web pages and every other client.
//
//go:embed openapi.yaml
var OpenAPI []byte
