package vagt

import "errors"

// Named errors. Callers decide on them with errors.Is; the wire decoders wrap them with
// the message type and a detail, e.g. "decode batch: value out of range: reading 3 ...".
var (
	// ErrMalformed: not well-formed CBOR, trailing bytes, or a value of the wrong type.
	ErrMalformed = errors.New("malformed")
	// ErrTooLarge: the payload, an array, a map or the nesting exceeds its limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnknownVersion: the message's version key names a version we do not speak.
	ErrUnknownVersion = errors.New("unknown version")
	// ErrDuplicateKey: a CBOR map repeats a key, or a device table repeats an id.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrUnknownField: a map carries a key this version does not define.
	ErrUnknownField = errors.New("unknown field")
	// ErrMissingField: a required key is absent (or zero where zero is not allowed).
	ErrMissingField = errors.New("missing field")
	// ErrOutOfRange: a number outside the range its field allows.
	ErrOutOfRange = errors.New("value out of range")
	// ErrInvalidID: a gateway, device or home id that does not follow the id rules.
	ErrInvalidID = errors.New("invalid id")
	// ErrUnknownKind, ErrUnknownAlarmType, ErrUnknownPriority, ErrUnknownTechnology and
	// ErrUnknownMunicipality: a code that is not in this package's tables.
	ErrUnknownKind         = errors.New("unknown kind")
	ErrUnknownAlarmType    = errors.New("unknown alarm type")
	ErrUnknownPriority     = errors.New("unknown priority")
	ErrUnknownTechnology   = errors.New("unknown technology")
	ErrUnknownMunicipality = errors.New("unknown municipality")
	// ErrGatewayMismatch: a payload's gateway id differs from the topic's (or the
	// authenticated gateway's): a gateway speaking for another.
	ErrGatewayMismatch = errors.New("gateway mismatch")
)

// reasons maps each named error to a short, stable label for metrics and logs.
var reasons = []struct {
	err    error
	reason string
}{
	{ErrTooLarge, "too_large"},
	{ErrUnknownVersion, "unknown_version"},
	{ErrDuplicateKey, "duplicate_key"},
	{ErrUnknownField, "unknown_field"},
	{ErrMissingField, "missing_field"},
	{ErrOutOfRange, "out_of_range"},
	{ErrInvalidID, "invalid_id"},
	{ErrUnknownKind, "unknown_kind"},
	{ErrUnknownAlarmType, "unknown_alarm_type"},
	{ErrUnknownPriority, "unknown_priority"},
	{ErrUnknownTechnology, "unknown_technology"},
	{ErrUnknownMunicipality, "unknown_municipality"},
	{ErrGatewayMismatch, "gateway_mismatch"},
	{ErrMalformed, "malformed"},
}

// Reason returns a stable label ("malformed", "too_large", ...) for the named error that
// err wraps, "" for nil and "other" for an error this package did not name. Consumers use
// it to count rejected input per reason.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "other"
}
