package ingest

import (
	"strconv"

	"github.com/vagt-dk/vagt"
)

// Line protocol, written by hand rather than through write.Point: it is the hot path, and
// nothing in it needs escaping. Gateway ids, device ids, kind, technology, alarm type and
// priority names are restricted by the root package to [A-Za-z0-9._:-], which line
// protocol takes as they are (only ',', ' ', '=' and '\' need escaping in tags).
//
// Timestamps are Unix milliseconds; the writer asks for precision ms. Tag keys are sorted,
// which spares InfluxDB the sort.

// techUnknown tags readings whose kind says nothing about the technology (battery, link
// quality, power, tamper): every device type reports them.
const techUnknown = "unknown"

// techByKind is the technology a kind of reading belongs to. The tag is derived from the
// kind alone, so a redelivered message always yields the same series key; a device →
// technology registry (the gateway's status inventory) could refine it later.
var techByKind = func() [256]string {
	var t [256]string
	for i := range t {
		t[i] = techUnknown
	}
	set := func(tech vagt.Technology, ks ...vagt.Kind) {
		for _, k := range ks {
			t[k] = tech.String()
		}
	}
	set(vagt.TechEnvironmentSensor, vagt.KindTemperature, vagt.KindHumidity, vagt.KindIlluminance, vagt.KindMotion)
	set(vagt.TechDoorSensor, vagt.KindDoorOpen)
	set(vagt.TechBedSensor, vagt.KindBedOccupied)
	set(vagt.TechWaterAlarm, vagt.KindWaterLeak)
	set(vagt.TechSmokeAlarm, vagt.KindSmoke)
	set(vagt.TechPersonalAlarm, vagt.KindButtonPress)
	set(vagt.TechFallDetector, vagt.KindFall)
	set(vagt.TechMedicineDispenser, vagt.KindMedicationTaken, vagt.KindMedicationMissed)
	return t
}()

// kindName and kindScale are the kinds' tag names and wire scales, looked up per reading.
// kindDigits is log10 of the scale, or -1 where the scale is not a power of ten (then
// appendValue takes strconv's path): worked out once, not per reading.
var kindName, kindScale, kindDigits = func() (names [256]string, scales [256]int64, digits [256]int) {
	for i := range digits {
		digits[i] = -1
	}
	for _, k := range vagt.Kinds() {
		names[k.Kind], scales[k.Kind] = k.Name, k.Scale
		d := 0
		for s := k.Scale; s > 1 && s%10 == 0; s /= 10 {
			d++
		}
		if k.Scale >= 1 && pow10(d) == k.Scale {
			digits[k.Kind] = d
		}
	}
	return names, scales, digits
}()

// appendValue formats a reading's value from its wire integer w: the value is w divided by
// the kind's scale, so where the scale is a power of ten it is written as that decimal
// (2137 at scale 100 → "21.37"), which parses to exactly the float64 Kind.FromWire gives
// and is what strconv's shortest form writes for it (TestAppendValueExact), at a fraction
// of its cost and without the float. Other scales take strconv's path.
func appendValue(dst []byte, k vagt.Kind, w int64) []byte {
	scale, digits := kindScale[k], kindDigits[k]
	if digits < 0 || w > 1<<53 || w < -(1<<53) {
		return strconv.AppendFloat(dst, float64(w)/float64(scale), 'f', -1, 64)
	}
	if w < 0 {
		dst = append(dst, '-')
		w = -w
	}
	u := uint64(w)
	for digits > 0 && u%10 == 0 { // no trailing zeros after the point
		u /= 10
		digits--
	}
	// The digits from the last, the point after the fraction's, a zero before it when
	// there is no whole part ("0.05"): one pass, no strconv calls.
	var buf [24]byte
	i := len(buf)
	for n := 0; ; n++ {
		if n == digits && digits > 0 {
			i--
			buf[i] = '.'
		}
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 && n >= digits {
			break
		}
	}
	return append(dst, buf[i:]...)
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// TechnologyOf returns the tech tag of a reading of kind k.
func TechnologyOf(k vagt.Kind) string { return techByKind[k] }

// AppendBatch appends one line per reading of b (measurement reading, tags dev gw kind mun
// tech, field value) and returns the extended buffer. It reads the wire form: the time is
// Base+Offset in ms and the value comes from the wire integer, with no float or time.Time
// in between.
func AppendBatch(dst []byte, b *vagt.WireBatch) []byte {
	var k seriesKeys
	return k.appendBatch(dst, b)
}

// seriesKeys keeps, for one batch at a time, each device's series key ("reading,dev=…,gw=…,
// kind=…,mun=…,tech=… value=") for the kind it last reported: a gateway reports each sensor
// many times per batch (20 samples of 25 sensors is typical), so the key is formatted once
// and copied in one append after that. The filler keeps one, so its buffers are reused.
type seriesKeys struct {
	text []byte
	slot []keySlot // by device index
}

type keySlot struct {
	kind       vagt.Kind
	set        bool
	start, end int
}

func (s *seriesKeys) appendBatch(dst []byte, b *vagt.WireBatch) []byte {
	var munBuf [8]byte
	mun := strconv.AppendUint(munBuf[:0], uint64(b.Municipality), 10)
	s.text = s.text[:0]
	s.slot = append(s.slot[:0], make([]keySlot, len(b.Devices))...)
	// A gateway samples its sensors together, so consecutive readings often share a time:
	// its digits are kept rather than formatted again.
	var timeBuf [24]byte
	var ts []byte
	lastOffset := int64(-1)
	for i := range b.Readings {
		r := &b.Readings[i]
		sl := &s.slot[r.Device]
		if !sl.set || sl.kind != r.Kind {
			start := len(s.text)
			s.text = append(s.text, "reading,dev="...)
			s.text = append(s.text, b.Devices[r.Device]...)
			s.text = append(s.text, ",gw="...)
			s.text = append(s.text, b.Gateway...)
			s.text = append(s.text, kindThenMun[r.Kind]...)
			s.text = append(s.text, mun...)
			s.text = append(s.text, techThenValue[r.Kind]...)
			*sl = keySlot{kind: r.Kind, set: true, start: start, end: len(s.text)}
		}
		dst = append(dst, s.text[sl.start:sl.end]...)
		dst = appendValue(dst, r.Kind, r.Value)
		if r.Offset != lastOffset {
			ts = append(strconv.AppendInt(append(timeBuf[:0], ' '), b.Base+r.Offset, 10), '\n')
			lastOffset = r.Offset
		}
		dst = append(dst, ts...)
	}
	return dst
}

// kindThenMun is ",kind=<name>,mun=" and techThenValue ",tech=<technology> value=" per
// kind: the constant stretches around the municipality, one append each.
var kindThenMun, techThenValue = func() (km, tv [256]string) {
	for k := range km {
		km[k] = ",kind=" + kindName[k] + ",mun="
		tv[k] = ",tech=" + techByKind[k] + " value="
	}
	return km, tv
}()

// AppendAlarm appends the alarm as one line of measurement alarm: tags dev gw mun priority
// type, fields seq and clears. Its series key and time identify it, so a redelivered alarm
// overwrites itself; seq is a field rather than a tag to keep series cardinality bounded.
func AppendAlarm(dst []byte, a *vagt.Alarm) []byte {
	dst = append(dst, "alarm,dev="...)
	dst = append(dst, a.Device...)
	dst = append(dst, ",gw="...)
	dst = append(dst, a.Gateway...)
	dst = append(dst, ",mun="...)
	dst = strconv.AppendUint(dst, uint64(a.Municipality), 10)
	dst = append(dst, ",priority="...)
	dst = append(dst, a.Priority.String()...)
	dst = append(dst, ",type="...)
	dst = append(dst, a.Type.String()...)
	dst = append(dst, " seq="...)
	dst = strconv.AppendUint(dst, a.Seq, 10)
	dst = append(dst, "i,clears="...)
	dst = strconv.AppendUint(dst, a.Clears, 10)
	dst = append(dst, "i "...)
	dst = strconv.AppendInt(dst, a.Time.UnixMilli(), 10)
	dst = append(dst, '\n')
	return dst
}
