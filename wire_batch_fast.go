package vagt

import (
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// WireBatch is a telemetry batch decoded and checked exactly as DecodeBatch does it, left
// in its wire form: each reading keeps its device index, its time as an offset from Base,
// and its value as the wire integer (the value × its kind's Scale). A consumer that only
// formats readings — ingest's line protocol — needs no float and no time.Time per reading
// from it, and DecodeBatchWire reuses its slices from batch to batch.
type WireBatch struct {
	Gateway      GatewayID
	Seq          uint64
	Municipality MunicipalityCode
	Base         int64 // Unix ms
	Devices      []DeviceID
	Readings     []WireReading
}

// WireReading is one reading of a WireBatch: device Devices[Device], at Base+Offset Unix
// ms, value Value / Kind's Scale (the float Kind.FromWire returns).
type WireReading struct {
	Device int
	Kind   Kind
	Offset int64
	Value  int64
}

// DecodeBatchWire decodes and checks an untrusted batch into b as DecodeBatch would — the
// same checks, the same errors — but without building a Reading per reading (no
// allocation per reading once b's slices have grown). b is changed only when it returns
// nil. TestBatchDecodersAgree* hold it to DecodeBatch.
func DecodeBatchWire(data []byte, b *WireBatch) error {
	scratch := readingsPool.Get().(*[]wireReading)
	defer readingsPool.Put(scratch)
	w, ok := fastBatch(data, scratch)
	if !ok {
		var err error
		if w, err = referenceBatch(data); err != nil {
			return fmt.Errorf("decode batch: %w", err)
		}
	}
	if err := b.fill(&w); err != nil {
		return fmt.Errorf("decode batch: %w", err)
	}
	return nil
}

// fill checks w and, when it is valid, sets b to it.
func (b *WireBatch) fill(w *wireBatch) error {
	if err := checkWire(w); err != nil {
		return err
	}
	b.Gateway, b.Seq, b.Municipality, b.Base = GatewayID(w.Gateway), w.Seq, MunicipalityCode(w.Municipality), int64(w.Base)
	b.Devices = b.Devices[:0]
	for _, d := range w.Devices {
		b.Devices = append(b.Devices, DeviceID(d))
	}
	b.Readings = slices.Grow(b.Readings[:0], len(w.Readings))[:len(w.Readings)]
	for i, r := range w.Readings {
		// checkWire bounded each field: the index by the devices, the kind to a byte, the
		// offset to a day.
		b.Readings[i] = WireReading{Device: int(r.Device), Kind: Kind(r.Kind), Offset: int64(r.Offset), Value: r.Value}
	}
	return nil
}

// batch returns the batch as DecodeBatch returns it.
func (b *WireBatch) batch() Batch {
	out := Batch{Gateway: b.Gateway, Seq: b.Seq, Municipality: b.Municipality, Readings: make([]Reading, len(b.Readings))}
	base := time.UnixMilli(b.Base).UTC()
	for i, r := range b.Readings {
		out.Readings[i] = Reading{Device: b.Devices[r.Device], Kind: r.Kind, Time: base.Add(time.Duration(r.Offset) * time.Millisecond),
			Value: float64(r.Value) / float64(kinds[r.Kind].Scale)} // as Kind.FromWire computes it
	}
	return out
}

// fastBatch decodes the common shape of a telemetry batch without reflection: a
// definite-length map with every key 0..6 once, in increasing order, each value of exactly
// the type wireBatch declares, nothing after it. It reports ok=false for anything else —
// another key order, a missing key, a tag, a float, an indefinite length, bad UTF-8, a cap
// exceeded, truncated or trailing bytes — and the caller then decodes with the reference
// decoder (unmarshal with batchDecMode), so every rejection and every unusual but valid
// form keeps exactly the reference's result and error. What it accepts, the reference
// accepts too and decodes to the same wireBatch (FuzzBatchDecodersAgree checks this).
//
// A profile of ingest showed ~75 % of its per-reading CPU in the reflective CBOR decode
// (docs/scaling.md, "where ingest's CPU goes"); this path does the same work in a loop.
//
// The readings go into *scratch, grown as needed and reused from batch to batch; the
// returned w.Readings aliases it.
func fastBatch(data []byte, scratch *[]wireReading) (w wireBatch, ok bool) {
	if len(data) == 0 || len(data) > MaxBatchBytes {
		return wireBatch{}, false
	}
	d := fastDec{data: data}
	if n, ok := d.head(5); !ok || n != 7 {
		return wireBatch{}, false
	}
	for key := uint64(0); key < 7; key++ {
		if k, ok := d.head(0); !ok || k != key {
			return wireBatch{}, false
		}
		switch key {
		case 0:
			v, ok := d.head(0)
			if !ok {
				return wireBatch{}, false
			}
			w.Version = &v
		case 1:
			s, ok := d.text()
			if !ok {
				return wireBatch{}, false
			}
			w.Gateway = s
		case 2, 3, 4:
			v, ok := d.head(0)
			if !ok {
				return wireBatch{}, false
			}
			switch key {
			case 2:
				w.Seq = v
			case 3:
				w.Municipality = v
			default:
				w.Base = v
			}
		case 5:
			n, ok := d.head(4)
			if !ok || n > MaxBatchReadings {
				return wireBatch{}, false
			}
			w.Devices = make([]string, n)
			for i := range w.Devices {
				if w.Devices[i], ok = d.text(); !ok {
					return wireBatch{}, false
				}
			}
		case 6:
			n, ok := d.head(4)
			if !ok || n > MaxBatchReadings {
				return wireBatch{}, false
			}
			if uint64(cap(*scratch)) < n {
				*scratch = make([]wireReading, n)
			}
			w.Readings = (*scratch)[:n]
			for i := range w.Readings {
				if !d.reading(&w.Readings[i]) {
					return wireBatch{}, false
				}
			}
		}
	}
	if d.off != len(d.data) {
		return wireBatch{}, false
	}
	return w, true
}

// fastDec reads CBOR data items from data at off; every method reports ok=false rather
// than guess at anything out of the common shape.
type fastDec struct {
	data []byte
	off  int
}

// head reads an initial byte of the given major type and its argument. Non-shortest
// argument encodings are accepted, as the reference decoder accepts them; indefinite
// lengths (31) and the reserved values (28-30) are not.
func (d *fastDec) head(major byte) (uint64, bool) {
	if d.off >= len(d.data) {
		return 0, false
	}
	ib := d.data[d.off]
	if ib>>5 != major {
		return 0, false
	}
	ai := ib & 0x1f
	d.off++
	var size int
	switch {
	case ai < 24:
		return uint64(ai), true
	case ai == 24:
		size = 1
	case ai == 25:
		size = 2
	case ai == 26:
		size = 4
	case ai == 27:
		size = 8
	default:
		return 0, false
	}
	if len(d.data)-d.off < size {
		return 0, false
	}
	var v uint64
	for _, c := range d.data[d.off : d.off+size] {
		v = v<<8 | uint64(c)
	}
	d.off += size
	return v, true
}

// text reads a definite-length, valid UTF-8 text string.
func (d *fastDec) text() (string, bool) {
	n, ok := d.head(3)
	if !ok || n > uint64(len(d.data)-d.off) {
		return "", false
	}
	b := d.data[d.off : d.off+int(n)]
	if !utf8.Valid(b) {
		return "", false
	}
	d.off += int(n)
	return string(b), true
}

// reading reads [device, kind, offset, value]: three unsigned integers and one integer
// that fits int64.
func (d *fastDec) reading(r *wireReading) bool {
	if n, ok := d.head(4); !ok || n != 4 {
		return false
	}
	var ok bool
	if r.Device, ok = d.head(0); !ok {
		return false
	}
	if r.Kind, ok = d.head(0); !ok {
		return false
	}
	if r.Offset, ok = d.head(0); !ok {
		return false
	}
	if d.off >= len(d.data) {
		return false
	}
	neg := d.data[d.off]>>5 == 1
	major := byte(0)
	if neg {
		major = 1
	}
	v, ok := d.head(major)
	if !ok || v > math.MaxInt64 {
		return false
	}
	if neg {
		r.Value = -1 - int64(v)
	} else {
		r.Value = int64(v)
	}
	return true
}
