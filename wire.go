package vagt

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// WireVersion is the version of the wire format this package writes and reads. A decoder
// rejects any other version with ErrUnknownVersion: a new field means a new version.
const WireVersion = 1

// Size limits of encoded messages; a decoder refuses larger input before parsing it.
const (
	MaxBatchBytes  = 256 << 10
	MaxAlarmBytes  = 8 << 10
	MaxStatusBytes = 128 << 10
)

// encMode writes deterministic CBOR (RFC 8949 §4.2.1, "core deterministic"): shortest
// integers, sorted map keys, no indefinite lengths. Equal messages are equal bytes.
var encMode = mustEncMode()

func mustEncMode() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // the options are constants: this cannot happen at run time
	}
	return em
}

// Decoding modes, one per message so each caps its arrays to what the message may hold.
var (
	batchDecMode  = mustDecMode(MaxBatchReadings)
	alarmDecMode  = mustDecMode(16)
	statusDecMode = mustDecMode(MaxInventory)
)

// onlyBooleans rejects every CBOR simple value but false and true. Null and undefined
// would otherwise decode as the zero value: "clears: null" would read as a raise.
var onlyBooleans = mustSimpleValues()

func mustSimpleValues() *cbor.SimpleValueRegistry {
	var reject []func(*cbor.SimpleValueRegistry) error
	for sv := 0; sv < 256; sv++ {
		if (sv >= 24 && sv <= 31) || sv == 20 || sv == 21 {
			continue // 24-31 are reserved (never well-formed); 20, 21 are false and true
		}
		reject = append(reject, cbor.WithRejectedSimpleValue(cbor.SimpleValue(sv)))
	}
	r, err := cbor.NewSimpleValueRegistryFromDefaults(reject...)
	if err != nil {
		panic(err) // the values are constants: this cannot happen at run time
	}
	return r
}

func mustDecMode(maxArray int) cbor.DecMode {
	dm, err := cbor.DecOptions{
		SimpleValues:      onlyBooleans,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   4,
		MaxArrayElements:  maxArray,
		MaxMapPairs:       16,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		NaN:               cbor.NaNDecodeForbidden,
		Inf:               cbor.InfDecodeForbidden,
	}.DecMode()
	if err != nil {
		panic(err) // the options are constants: this cannot happen at run time
	}
	return dm
}

// unmarshal decodes data into v and names what went wrong.
func unmarshal(dm cbor.DecMode, data []byte, limit int, v any) error {
	if len(data) > limit {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), limit)
	}
	if len(data) == 0 {
		return fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	err := dm.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var (
		dup     *cbor.DupMapKeyError
		unknown *cbor.UnknownFieldError
		nested  *cbor.MaxNestedLevelError
		array   *cbor.MaxArrayElementsError
		pairs   *cbor.MaxMapPairsError
	)
	switch {
	case errors.As(err, &dup):
		return fmt.Errorf("%w: %v", ErrDuplicateKey, err)
	case errors.As(err, &unknown):
		return fmt.Errorf("%w: %v", ErrUnknownField, err)
	case errors.As(err, &nested), errors.As(err, &array), errors.As(err, &pairs):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

func checkVersion(v *uint64) error {
	if v == nil {
		return fmt.Errorf("%w: version (key 0)", ErrMissingField)
	}
	if *v != WireVersion {
		return fmt.Errorf("%w: %d, this decoder speaks %d", ErrUnknownVersion, *v, WireVersion)
	}
	return nil
}

// CheckGateway returns ErrGatewayMismatch unless a payload's gateway id equals the id that
// its topic (or its HTTP credentials) speaks for. Every consumer calls it.
func CheckGateway(want, got GatewayID) error {
	if want != got {
		return fmt.Errorf("%w: payload says %q, sender is %q", ErrGatewayMismatch, clip(string(got)), want)
	}
	return nil
}
