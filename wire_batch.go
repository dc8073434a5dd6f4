package vagt

import (
	"fmt"
	"sync"
	"time"
)

// wireBatch is a telemetry batch on the wire (docs/wire.md, "batch").
type wireBatch struct {
	Version      *uint64       `cbor:"0,keyasint"`
	Gateway      string        `cbor:"1,keyasint"`
	Seq          uint64        `cbor:"2,keyasint"`
	Municipality uint64        `cbor:"3,keyasint"`
	Base         uint64        `cbor:"4,keyasint"` // Unix ms of the earliest reading
	Devices      []string      `cbor:"5,keyasint"`
	Readings     []wireReading `cbor:"6,keyasint"`
}

// wireReading is [device index, kind, offset ms from base, value × scale].
type wireReading struct {
	_      struct{} `cbor:",toarray"`
	Device uint64
	Kind   uint64
	Offset uint64
	Value  int64
}

// EncodeBatch returns the batch in canonical form: the base time is the earliest
// reading's, devices are listed in order of first appearance, readings keep their order,
// and times are truncated to milliseconds. It validates the batch first.
func EncodeBatch(b *Batch) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	v := uint64(WireVersion)
	w := wireBatch{
		Version:      &v,
		Gateway:      string(b.Gateway),
		Seq:          b.Seq,
		Municipality: uint64(b.Municipality),
		Readings:     make([]wireReading, len(b.Readings)),
	}
	base := b.Readings[0].Time.UnixMilli()
	for _, r := range b.Readings[1:] {
		base = min(base, r.Time.UnixMilli())
	}
	w.Base = uint64(base)
	index := make(map[DeviceID]uint64, 16)
	for i, r := range b.Readings {
		d, ok := index[r.Device]
		if !ok {
			if len(index) == MaxBatchDevices {
				return nil, fmt.Errorf("encode batch: %w: more than %d devices", ErrTooLarge, MaxBatchDevices)
			}
			d = uint64(len(index))
			index[r.Device] = d
			w.Devices = append(w.Devices, string(r.Device))
		}
		value, _ := r.Kind.ToWire(r.Value) // checked by Validate
		w.Readings[i] = wireReading{Device: d, Kind: uint64(r.Kind), Offset: uint64(r.Time.UnixMilli() - base), Value: value}
	}
	out, err := encMode.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	if len(out) > MaxBatchBytes {
		return nil, fmt.Errorf("encode batch: %w: %d bytes, at most %d", ErrTooLarge, len(out), MaxBatchBytes)
	}
	return out, nil
}

// DecodeBatch decodes and validates an untrusted telemetry batch. It accepts any valid
// form, canonical or not, and returns a named error (see Reason) for anything else.
func DecodeBatch(data []byte) (Batch, error) {
	b, err := decodeBatch(data)
	if err != nil {
		return Batch{}, fmt.Errorf("decode batch: %w", err)
	}
	return b, nil
}

// decodeBatch takes the reflection-free path for the common shape and the reference
// decoder for everything else (wire_batch_fast.go), then checks the batch.
func decodeBatch(data []byte) (Batch, error) {
	scratch := readingsPool.Get().(*[]wireReading)
	defer readingsPool.Put(scratch)
	w, ok := fastBatch(data, scratch)
	if !ok {
		var err error
		if w, err = referenceBatch(data); err != nil {
			return Batch{}, err
		}
	}
	return batchFromWire(&w)
}

// readingsPool holds the fast path's wire readings between batches: batchFromWire copies
// every value out of them, so the slice is free again when decodeBatch returns.
var readingsPool = sync.Pool{New: func() any { return new([]wireReading) }}

// referenceBatch is the reflective CBOR decode with the caps and strictness of
// batchDecMode; it defines what a batch on the wire may be.
func referenceBatch(data []byte) (wireBatch, error) {
	var w wireBatch
	err := unmarshal(batchDecMode, data, MaxBatchBytes, &w)
	return w, err
}

func batchFromWire(w *wireBatch) (Batch, error) {
	var b WireBatch
	if err := b.fill(w); err != nil {
		return Batch{}, err
	}
	return b.batch(), nil
}

// checkWire checks everything DecodeBatch promises of a batch, in the order the errors are
// reported: after it, every device id is valid and listed once, every reading's device
// index, offset, kind and wire value are in range.
func checkWire(w *wireBatch) error {
	if err := checkVersion(w.Version); err != nil {
		return err
	}
	if err := GatewayID(w.Gateway).Validate(); err != nil {
		return err
	}
	if w.Seq == 0 {
		return fmt.Errorf("%w: batch seq (key 2)", ErrMissingField)
	}
	if w.Municipality > 0xffff {
		return fmt.Errorf("%w: %d", ErrUnknownMunicipality, w.Municipality)
	}
	if err := MunicipalityCode(w.Municipality).Validate(); err != nil {
		return err
	}
	if w.Base > uint64(maxTime.UnixMilli()) {
		return fmt.Errorf("%w: base time %d ms", ErrOutOfRange, w.Base)
	}
	if err := validTime(time.UnixMilli(int64(w.Base)).UTC()); err != nil {
		return fmt.Errorf("base time: %w", err)
	}
	if len(w.Devices) == 0 || len(w.Readings) == 0 {
		return fmt.Errorf("%w: devices and readings (keys 5, 6) must not be empty", ErrMissingField)
	}
	if len(w.Devices) > MaxBatchDevices {
		return fmt.Errorf("%w: %d devices, at most %d", ErrTooLarge, len(w.Devices), MaxBatchDevices)
	}
	// A home lists a few dozen devices: comparing with the earlier ones is cheaper than a
	// map up to about that many; past it, a map keeps the check linear.
	const smallList = 32
	var seen map[string]struct{}
	if len(w.Devices) > smallList {
		seen = make(map[string]struct{}, len(w.Devices))
	}
	for i, d := range w.Devices {
		if err := DeviceID(d).Validate(); err != nil {
			return fmt.Errorf("device %d: %w", i, err)
		}
		dup := false
		if seen != nil {
			_, dup = seen[d]
			seen[d] = struct{}{}
		} else {
			for _, e := range w.Devices[:i] {
				if e == d {
					dup = true
					break
				}
			}
		}
		if dup {
			return fmt.Errorf("%w: device %q listed twice", ErrDuplicateKey, d)
		}
	}
	const maxOffset = uint64(MaxBatchSpan / time.Millisecond)
	for i, r := range w.Readings {
		if r.Device >= uint64(len(w.Devices)) {
			return fmt.Errorf("reading %d: %w: device index %d, %d devices", i, ErrOutOfRange, r.Device, len(w.Devices))
		}
		if r.Offset > maxOffset || w.Base+r.Offset >= uint64(maxTime.UnixMilli()) {
			return fmt.Errorf("reading %d: %w: offset %d ms, at most %d, before 2100", i, ErrOutOfRange, r.Offset, maxOffset)
		}
		if r.Kind > 0xff {
			return fmt.Errorf("reading %d: %w: %d", i, ErrUnknownKind, r.Kind)
		}
		if l := &wireLimits[r.Kind]; !l.known || r.Value < l.lo || r.Value > l.hi {
			_, err := Kind(r.Kind).FromWire(r.Value) // says why, as it always did
			return fmt.Errorf("reading %d: %w", i, err)
		}
	}
	return nil
}

// wireLimits is each kind's range of wire integers, as Kind.FromWire checks it, worked out
// once rather than per reading (TestWireLimitsAgreeWithFromWire).
var wireLimits = func() (t [256]struct {
	known  bool
	lo, hi int64
}) {
	for _, i := range Kinds() {
		t[i.Kind].known = true
		t[i.Kind].lo, t[i.Kind].hi = int64(i.Min*float64(i.Scale)), int64(i.Max*float64(i.Scale))
	}
	return t
}()
