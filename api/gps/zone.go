package gps

import (
	"fmt"
	"math"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Zone is a safe zone: a circle (Center, Radius) or a polygon (Points, [lat, lon] pairs,
// not closed: the last point joins the first). Leaving every zone of the citizen raises
// left_safe_zone, except in the zone's quiet hours.
type Zone struct {
	Name   string       `json:"name"`
	Center *[2]float64  `json:"center,omitempty"` // [lat, lon]
	Radius float64      `json:"radius_m,omitempty"`
	Points [][2]float64 `json:"points,omitempty"`
	Quiet  []QuietHours `json:"quiet_hours,omitempty"`
}

// QuietHours is a daily window, Danish time, "HH:MM" to "HH:MM" (over midnight when To
// is earlier), in which leaving the zone raises no alarm (a walk with a relative).
type QuietHours struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// MaxZones and MaxPoints bound what a care plan can hold.
const (
	MaxZones  = 10
	MaxPoints = 200
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", api.ErrInvalid, fmt.Sprintf(format, args...))
}

// ValidateZones checks a citizen's zones: each a circle or a simple polygon (3 to 200
// points, in range, with an area, no edge crossing another), quiet hours well formed.
func ValidateZones(zs []Zone) error {
	if len(zs) > MaxZones {
		return invalid("at most %d safe zones", MaxZones)
	}
	for i, z := range zs {
		if err := z.validate(); err != nil {
			return fmt.Errorf("zone %d (%q): %w", i+1, z.Name, err)
		}
	}
	return nil
}

func inRange(p [2]float64) bool {
	return p[0] >= -90 && p[0] <= 90 && p[1] >= -180 && p[1] <= 180 && p[0] == p[0] && p[1] == p[1]
}

func (z Zone) validate() error {
	if len(z.Name) > 80 {
		return invalid("a name of at most 80 bytes")
	}
	switch {
	case z.Center != nil && len(z.Points) > 0:
		return invalid("a zone is a circle (center, radius_m) or a polygon (points), not both")
	case z.Center != nil:
		if !inRange(*z.Center) {
			return invalid("center %v out of range", *z.Center)
		}
		if !(z.Radius >= 20 && z.Radius <= 50000) {
			return invalid("radius_m %g outside 20..50000", z.Radius)
		}
	case len(z.Points) > 0:
		if err := validatePolygon(z.Points); err != nil {
			return err
		}
	default:
		return invalid("a zone needs a center and radius_m, or points")
	}
	for _, q := range z.Quiet {
		if _, err := clockMinutes(q.From); err != nil {
			return err
		}
		if _, err := clockMinutes(q.To); err != nil {
			return err
		}
		if q.From == q.To {
			return invalid("quiet hours from %s to %s are empty", q.From, q.To)
		}
	}
	return nil
}

func validatePolygon(pts [][2]float64) error {
	if len(pts) < 3 || len(pts) > MaxPoints {
		return invalid("a polygon has 3 to %d points, not %d", MaxPoints, len(pts))
	}
	for i, p := range pts {
		if !inRange(p) {
			return invalid("point %d %v out of range", i+1, p)
		}
	}
	pr := newProjection(pts[0])
	xy := make([][2]float64, len(pts))
	for i, p := range pts {
		xy[i] = pr.xy(p)
	}
	if math.Abs(area(xy)) < 100 { // m²: collinear or repeated points
		return invalid("the polygon has no area (points repeated or on one line)")
	}
	n := len(xy)
	for i := 0; i < n; i++ {
		a1, a2 := xy[i], xy[(i+1)%n]
		for j := i + 1; j < n; j++ {
			if j == i+1 || (i == 0 && j == n-1) {
				continue // neighbours share a point
			}
			if segmentsCross(a1, a2, xy[j], xy[(j+1)%n]) {
				return invalid("the polygon's edges %d and %d cross: not a simple polygon", i+1, j+1)
			}
		}
	}
	return nil
}

func clockMinutes(s string) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, invalid("quiet hours time %q is not HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 23 || m > 59 {
		return 0, invalid("quiet hours time %q is not HH:MM", s)
	}
	return h*60 + m, nil
}

// copenhagen is vagt.Copenhagen, loaded once for every component (with time/tzdata, so
// never a fixed CET that is an hour off all summer).
var copenhagen = vagt.Copenhagen

// QuietAt reports whether t falls in one of the zone's quiet hours (Danish time).
func (z Zone) QuietAt(t time.Time) bool {
	lt := t.In(copenhagen)
	m := lt.Hour()*60 + lt.Minute()
	for _, q := range z.Quiet {
		from, _ := clockMinutes(q.From)
		to, _ := clockMinutes(q.To)
		if (from < to && m >= from && m < to) || (from > to && (m >= from || m < to)) {
			return true
		}
	}
	return false
}

// Outside returns how far (metres) the point is outside the zone's edge; negative inside.
func (z Zone) Outside(lat, lon float64) float64 {
	if z.Center != nil {
		return haversine(lat, lon, z.Center[0], z.Center[1]) - z.Radius
	}
	pr := newProjection([2]float64{lat, lon})
	xy := make([][2]float64, len(z.Points))
	for i, p := range z.Points {
		xy[i] = pr.xy(p)
	}
	d := math.Inf(1)
	inside := false
	n := len(xy)
	for i := 0; i < n; i++ {
		a, b := xy[i], xy[(i+1)%n]
		d = math.Min(d, distToSegment(a, b))
		if (a[1] > 0) != (b[1] > 0) && 0 < (b[0]-a[0])*(0-a[1])/(b[1]-a[1])+a[0] {
			inside = !inside
		}
	}
	if inside {
		return -d
	}
	return d
}

// projection maps lat/lon to metres east (x) and north (y) of an origin: equirectangular,
// exact enough within the tens of kilometres a zone spans.
type projection struct{ lat0, lon0, kx float64 }

const earthRadius = 6371008.8

func newProjection(o [2]float64) projection {
	return projection{o[0], o[1], math.Cos(o[0]*math.Pi/180) * earthRadius * math.Pi / 180}
}

func (p projection) xy(q [2]float64) [2]float64 {
	return [2]float64{(q[1] - p.lon0) * p.kx, (q[0] - p.lat0) * earthRadius * math.Pi / 180}
}

func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	r := math.Pi / 180
	dlat, dlon := (lat2-lat1)*r, (lon2-lon1)*r
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}

func area(xy [][2]float64) float64 {
	s := 0.0
	for i := range xy {
		a, b := xy[i], xy[(i+1)%len(xy)]
		s += a[0]*b[1] - b[0]*a[1]
	}
	return s / 2
}

// distToSegment is the distance from the origin to the segment ab.
func distToSegment(a, b [2]float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, -(a[0]*dx+a[1]*dy)/l))
	}
	return math.Hypot(a[0]+t*dx, a[1]+t*dy)
}

func cross(o, a, b [2]float64) float64 { return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0]) }

func segmentsCross(p1, p2, q1, q2 [2]float64) bool {
	d1, d2 := cross(q1, q2, p1), cross(q1, q2, p2)
	d3, d4 := cross(p1, p2, q1), cross(p1, p2, q2)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	on := func(a, b, c [2]float64) bool { // c on segment ab, given collinear
		return math.Min(a[0], b[0]) <= c[0] && c[0] <= math.Max(a[0], b[0]) && math.Min(a[1], b[1]) <= c[1] && c[1] <= math.Max(a[1], b[1])
	}
	return (d1 == 0 && on(q1, q2, p1)) || (d2 == 0 && on(q1, q2, p2)) || (d3 == 0 && on(p1, p2, q1)) || (d4 == 0 && on(p1, p2, q2))
}
