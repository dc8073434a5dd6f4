package stats

import (
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// AlertRecords are alert facts in a shape without pointers, for statistics over many
// alerts (a national request reads 660,000): an AlertFact's three optional times sit
// behind pointers and its strings are allocations of their own, each a cache miss to read
// and a pointer for the garbage collector to scan. Here times are Unix nanoseconds and the
// strings (district names, outcomes) indexes into Strings, each distinct string once.
type AlertRecords struct {
	Records []AlertRecord
	Strings []string
}

// AlertRecord is one AlertFact of AlertRecords.
type AlertRecord struct {
	// Unix nanoseconds; AckedAt, ResolvedAt and ArrivedAt only when Has says so.
	RaisedAt, AckedAt, ResolvedAt, ArrivedAt int64
	District                                 int64
	Escalations                              int32
	DistrictName, Outcome                    int32 // indexes into Strings
	Municipality                             vagt.MunicipalityCode
	Type                                     vagt.AlarmType
	Priority                                 vagt.Priority
	Has                                      uint8 // HasAcked | HasResolved | HasArrived
}

// The optional times an AlertRecord has.
const (
	HasAcked uint8 = 1 << iota
	HasResolved
	HasArrived
)

// AlertRecordsOf gives facts the shape of AlertRecords (in their order).
func AlertRecordsOf(facts []AlertFact) AlertRecords {
	b := NewAlertRecordsBuilder(len(facts))
	for k := range facts {
		b.Add(&facts[k])
	}
	return b.Records()
}

// AlertRecordsBuilder makes AlertRecords one alert at a time, interning their strings.
type AlertRecordsBuilder struct {
	out   AlertRecords
	index map[string]int32
}

// NewAlertRecordsBuilder is a builder for about n alerts.
func NewAlertRecordsBuilder(n int) *AlertRecordsBuilder {
	return &AlertRecordsBuilder{out: AlertRecords{Records: make([]AlertRecord, 0, n)}, index: map[string]int32{}}
}

// Intern is the index of s in Strings, added the first time.
func (b *AlertRecordsBuilder) Intern(s string) int32 {
	if i, ok := b.index[s]; ok {
		return i
	}
	i := int32(len(b.out.Strings))
	b.out.Strings = append(b.out.Strings, s)
	b.index[s] = i
	return i
}

// InternBytes is Intern of string(s), without allocating a string already interned (a
// store scanning rows reads its strings as bytes).
func (b *AlertRecordsBuilder) InternBytes(s []byte) int32 {
	if i, ok := b.index[string(s)]; ok {
		return i
	}
	return b.Intern(string(s))
}

// Append adds a record whose strings were interned by this builder.
func (b *AlertRecordsBuilder) Append(r AlertRecord) { b.out.Records = append(b.out.Records, r) }

// Add adds a fact.
func (b *AlertRecordsBuilder) Add(f *AlertFact) {
	r := AlertRecord{RaisedAt: f.RaisedAt.UnixNano(), District: f.District, Escalations: int32(f.Escalations),
		DistrictName: b.Intern(f.DistrictName), Outcome: b.Intern(string(f.Outcome)),
		Municipality: f.Municipality, Type: f.Type, Priority: f.Priority}
	if f.AckedAt != nil {
		r.AckedAt, r.Has = f.AckedAt.UnixNano(), r.Has|HasAcked
	}
	if f.ResolvedAt != nil {
		r.ResolvedAt, r.Has = f.ResolvedAt.UnixNano(), r.Has|HasResolved
	}
	if f.ArrivedAt != nil {
		r.ArrivedAt, r.Has = f.ArrivedAt.UnixNano(), r.Has|HasArrived
	}
	b.Append(r)
}

// Records are the records added.
func (b *AlertRecordsBuilder) Records() AlertRecords { return b.out }

// Fact is record k as an AlertFact (times in UTC).
func (rs AlertRecords) Fact(k int) AlertFact {
	r := &rs.Records[k]
	at := func(ns int64, has uint8) *time.Time {
		if r.Has&has == 0 {
			return nil
		}
		t := time.Unix(0, ns).UTC()
		return &t
	}
	return AlertFact{Municipality: r.Municipality, Type: r.Type, Priority: r.Priority, RaisedAt: time.Unix(0, r.RaisedAt).UTC(),
		AckedAt: at(r.AckedAt, HasAcked), ResolvedAt: at(r.ResolvedAt, HasResolved), Outcome: alerts.Outcome(rs.Strings[r.Outcome]),
		Escalations: int(r.Escalations), District: r.District, DistrictName: rs.Strings[r.DistrictName], ArrivedAt: at(r.ArrivedAt, HasArrived)}
}
