// Package rollup keeps a daily roll-up of which devices reported, so adoption statistics
// count "devices active" from the SQL store instead of reading every reading of the
// period from InfluxDB: Job rolls up each closed Europe/Copenhagen calendar day once and
// re-rolls the recent ones (gateways deliver late), and Activity answers ActiveDevices
// for any [from, to) from the roll-up plus InfluxDB for what the roll-up does not cover.
package rollup

import (
	"time"
)

// The roll-up's days begin and end in vagt.Copenhagen unless a Location is given.

// day is a local calendar day as YYYYMMDD, the key the SQL store keeps.
type day int

func dayOf(t time.Time, loc *time.Location) day {
	y, m, d := t.In(loc).Date()
	return day(y*10000 + int(m)*100 + d)
}

// start is the day's local midnight (which exists on DST days too: the clocks change at
// 02:00 and 03:00).
func (d day) start(loc *time.Location) time.Time {
	return time.Date(int(d)/10000, time.Month(int(d)/100%100), int(d)%100, 0, 0, 0, 0, loc)
}

// end is the next day's local midnight: 23, 24 or 25 hours after start.
func (d day) end(loc *time.Location) time.Time { return d.start(loc).AddDate(0, 0, 1) }

func (d day) next(loc *time.Location) day { return dayOf(d.end(loc), loc) }

// ceilMidnight is the first local midnight at or after t.
func ceilMidnight(t time.Time, loc *time.Location) time.Time {
	s := dayOf(t, loc).start(loc)
	if s.Before(t) {
		s = s.AddDate(0, 0, 1)
	}
	return s
}

// floorMidnight is the last local midnight at or before t.
func floorMidnight(t time.Time, loc *time.Location) time.Time {
	return dayOf(t, loc).start(loc)
}
