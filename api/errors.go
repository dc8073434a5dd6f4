package api

import (
	"errors"
	"fmt"
)

// Named errors of the api, one set for every service; the HTTP layer maps them to
// statuses in one place (api/httpapi/errors.go).
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")
	ErrInvalid   = errors.New("invalid")
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the store could not be reached or failed; the caller may retry.
	ErrUnavailable = errors.New("store unavailable")
)

// ErrNoTelemetry is returned when no InfluxDB is configured or it does not answer: the
// statistics that need it answer 503, the rest of the API goes on.
var ErrNoTelemetry = fmt.Errorf("%w: telemetry store (InfluxDB)", ErrUnavailable)

// FieldError is an invalid request that names its field (JSON path: "rules.night",
// "devices[2].device", "contacts") and why: a registry change, a care plan. It is
// ErrInvalid (400), and the answer names the field.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// InvalidField names the field for the error body.
func (e *FieldError) InvalidField() string { return e.Field }
