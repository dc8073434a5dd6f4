package gps

import (
	"math"
	"testing"
	"time"
)

// BenchmarkDecidePolygon: one fix against a 200-point polygon zone and a circle, the
// hysteresis and battery checks (what each position costs besides the store).
func BenchmarkDecidePolygon(b *testing.B) {
	pts := make([][2]float64, MaxPoints)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / MaxPoints
		pts[i] = [2]float64{55.77 + 0.005*math.Sin(a), 9.70 + 0.008*math.Cos(a)}
	}
	st := &TrackerState{Tracker: "gps.karen-01", Home: "h-1", Zones: []Zone{{Name: "p", Points: pts}, home}}
	l := Limits{}.WithDefaults()
	p := Position{Tracker: "gps.karen-01", At: time.Unix(1733097600, 0), Lat: 55.771, Lon: 9.701, Acc: 10, Battery: 80}
	for b.Loop() {
		Decide(st, p, l)
	}
}
