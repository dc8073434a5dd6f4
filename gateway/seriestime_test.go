package gateway

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestSeriesTimesDistinct: readings of one sensor in one millisecond become consecutive
// milliseconds, so InfluxDB keeps every one; other series and later readings are untouched.
func TestSeriesTimesDistinct(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 3, 12, 0, 400_123, time.UTC) // not on a millisecond
	ms := func(n int) time.Time { return t0.Truncate(time.Millisecond).Add(time.Duration(n) * time.Millisecond) }
	var s seriesTimes
	tests := []struct {
		device vagt.DeviceID
		kind   vagt.Kind
		at     time.Time
		want   time.Time
	}{
		{"bu-1:temp-1", vagt.KindTemperature, t0, ms(0)},
		{"bu-1:temp-1", vagt.KindTemperature, t0, ms(1)},                           // same millisecond: moved on
		{"bu-1:temp-1", vagt.KindTemperature, t0, ms(2)},                           // and again
		{"bu-1:temp-1", vagt.KindBattery, t0, ms(0)},                               // another kind: its own series
		{"bu-1:pir-1", vagt.KindTemperature, t0, ms(0)},                            // another device: its own series
		{"bu-1:temp-1", vagt.KindTemperature, ms(1), ms(3)},                        // behind the series: after its last
		{"bu-1:temp-1", vagt.KindTemperature, t0.Add(time.Second), ms(1000)},       // later: as it came
		{"bu-1:temp-1", vagt.KindTemperature, t0.Add(time.Second + 5e5), ms(1001)}, // within that ms again
	}
	for i, tt := range tests {
		r := vagt.Reading{Device: tt.device, Kind: tt.kind, Time: tt.at, Value: 1}
		s.stamp(&r)
		if !r.Time.Equal(tt.want) {
			t.Errorf("%d: %s %s at %s: stamped %s, want %s", i, tt.device, tt.kind, tt.at.Format(time.StampNano), r.Time.Format(time.StampNano), tt.want.Format(time.StampNano))
		}
	}
}
