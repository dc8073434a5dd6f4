package gateway

import (
	"time"

	"github.com/vagt-dk/vagt"
)

// seriesTimes keeps each series' readings at distinct milliseconds. InfluxDB keys a point
// by its series (gateway, device, kind) and time, and readings are stamped on arrival to
// the millisecond: two readings of one sensor in the same millisecond — a burst off the
// serial line, a Zigbee device reporting twice — would be one point on the platform, a
// reading lost without a trace. So a reading that is not after its series' last one is
// moved to the millisecond after it. Only the pipeline goroutine uses it.
type seriesTimes struct {
	last map[seriesKey]time.Time
}

type seriesKey struct {
	device vagt.DeviceID
	kind   vagt.Kind
}

// maxSeries bounds the memory: a home has tens of devices with a few kinds each. Past it
// the map starts afresh, which only forgets the last milliseconds of old series.
const maxSeries = 20000

// stamp sets r.Time to millisecond precision, after the series' previous reading.
func (s *seriesTimes) stamp(r *vagt.Reading) {
	if s.last == nil || len(s.last) >= maxSeries {
		s.last = make(map[seriesKey]time.Time)
	}
	k := seriesKey{r.Device, r.Kind}
	t := r.Time.Truncate(time.Millisecond)
	if prev, ok := s.last[k]; ok && !t.After(prev) {
		t = prev.Add(time.Millisecond)
	}
	s.last[k] = t
	r.Time = t
}
