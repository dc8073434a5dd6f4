package roster

import (
	"errors"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
)

func weekly(kind Kind, start, end string, staff ...string) Shift {
	return Shift{Kind: kind, Weekdays: Weekdays, Start: start, End: end, Staff: staff}
}

func TestValidate(t *testing.T) {
	ok := Roster{District: 1, Shifts: []Shift{
		weekly(Day, "07:00", "15:00", "anna"),
		weekly(Evening, "15:00", "22:00", "bo"),
		weekly(Night, "22:00", "07:00"), // nobody: valid, warned
	}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a day, evening and night roster: %v", err)
	}
	if w := ok.Warnings(); len(w) != 4 || w[2].Code != "no_staff" || w[2].Shift != 2 {
		t.Fatalf("warnings: %+v", w)
	}
	tests := []struct {
		name   string
		shifts []Shift
		fields []string
	}{
		{"empty shift", []Shift{weekly(Day, "07:00", "07:00", "anna")}, []string{"shifts[0].end"}},
		{"overlap", []Shift{weekly(Day, "07:00", "15:00"), weekly(Evening, "14:00", "22:00")}, []string{"shifts[1]"}},
		// Sunday's night shift runs into Monday's morning.
		{"overlap across the week's end", []Shift{
			{Kind: Night, Weekdays: []string{"sun"}, Start: "22:00", End: "08:00"},
			{Kind: Day, Weekdays: []string{"mon"}, Start: "07:00", End: "15:00"}}, []string{"shifts[1]"}},
		{"bad kind, weekday, time", []Shift{{Kind: "late", Weekdays: []string{"man"}, Start: "7:00", End: "24:00"}},
			[]string{"shifts[0].kind", "shifts[0].weekdays[0]", "shifts[0].start", "shifts[0].end"}},
		{"no weekdays", []Shift{{Kind: Day, Start: "07:00", End: "15:00"}}, []string{"shifts[0].weekdays"}},
		{"backup both", []Shift{{Kind: Day, Weekdays: []string{"mon"}, Start: "07:00", End: "15:00", Backup: Backup{User: "x", District: 2}}},
			[]string{"shifts[0].backup"}},
		{"backup itself", []Shift{{Kind: Day, Weekdays: []string{"mon"}, Start: "07:00", End: "15:00", Backup: Backup{District: 1}}},
			[]string{"shifts[0].backup.district"}},
		{"staff twice", []Shift{weekly(Day, "07:00", "15:00", "anna", "anna")}, []string{"shifts[0].staff[1]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Roster{District: 1, Shifts: tc.shifts}.Validate()
			var ve api.FieldErrors
			if !errors.As(err, &ve) || !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("got %v, want field errors", err)
			}
			if len(ve) != len(tc.fields) {
				t.Fatalf("fields %+v, want %v", ve, tc.fields)
			}
			for i, f := range tc.fields {
				if ve[i].Field != f {
					t.Errorf("field %d = %q, want %q (%s)", i, ve[i].Field, f, ve[i].Reason)
				}
			}
		})
	}
	// Adjacent shifts on different days do not overlap: Monday's night, Tuesday's day.
	adj := Roster{District: 1, Shifts: []Shift{
		{Kind: Night, Weekdays: []string{"mon"}, Start: "22:00", End: "07:00"},
		{Kind: Day, Weekdays: []string{"tue"}, Start: "07:00", End: "15:00"}}}
	if err := adj.Validate(); err != nil {
		t.Fatalf("adjacent shifts: %v", err)
	}
}

func TestOnDutyAcrossMidnightAndSummerTime(t *testing.T) {
	r := Roster{District: 1, Shifts: []Shift{
		{Kind: Day, Weekdays: Weekdays, Start: "07:00", End: "22:00", Staff: []string{"anna"}},
		{Kind: Night, Weekdays: []string{"sat"}, Start: "22:00", End: "07:00", Staff: []string{"bo"}},
	}}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		at    string
		shift int // -1: nobody
	}{
		// Summer time ends Sunday 25 October 2026 at 03:00 CEST → 02:00 CET. Saturday's
		// night shift starts 22:00 CEST (20:00 UTC) and ends 07:00 CET (06:00 UTC): 10 h.
		{"2026-10-24T19:59:00Z", 0},
		{"2026-10-24T20:00:00Z", 1},
		{"2026-10-25T01:30:00Z", 1}, // 02:30 CET, the repeated hour
		{"2026-10-25T05:59:00Z", 1},
		{"2026-10-25T06:00:00Z", 0}, // 07:00 CET: the day shift
		// Summer time starts Sunday 28 March 2027 at 02:00 CET → 03:00 CEST: Saturday's
		// night is 8 h, 21:00 UTC to 05:00 UTC.
		{"2027-03-27T21:00:00Z", 1},
		{"2027-03-28T04:59:00Z", 1},
		{"2027-03-28T05:00:00Z", 0},
		// Friday night: no night shift on Friday.
		{"2026-10-23T23:00:00Z", -1},
		// Saturday 00:30: Friday's night is not rostered, Saturday's starts at 22:00.
		{"2026-10-23T22:30:00Z", -1},
	}
	for _, tc := range tests {
		d, ok := r.OnDuty(utc(tc.at))
		got := -1
		if ok {
			got = d.Index
		}
		if got != tc.shift {
			t.Errorf("at %s: shift %d, want %d (%+v)", tc.at, got, tc.shift, d)
		}
	}
	d, _ := r.OnDuty(utc("2026-10-25T01:30:00Z"))
	if d.Until.Sub(d.From) != 10*time.Hour {
		t.Errorf("the night into winter time lasts %s, want 10h", d.Until.Sub(d.From))
	}
	d, _ = r.OnDuty(utc("2027-03-28T01:30:00Z"))
	if d.Until.Sub(d.From) != 8*time.Hour {
		t.Errorf("the night into summer time lasts %s, want 8h", d.Until.Sub(d.From))
	}
}
