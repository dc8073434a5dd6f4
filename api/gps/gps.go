// Package gps takes positions from GPS trackers that report over the mobile network
// straight to the platform, with no home gateway: the OwnTracks app's MQTT JSON on the
// platform broker (owntracks.go) and the OsmAnd HTTP protocol that Traccar Client speaks
// (osmand.go). Each accepted position is stored in the SQL store (personal data: behind
// roles and the audit log, kept for a short period) and checked against the citizen's
// safe zones (zone.go); leaving the zone, a panic press, a low battery and a silent
// tracker become alerts on the usual path (service.go). docs/gps.md is the contract.
package gps

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/vagt-dk/vagt"
)

// AlarmLeftZone is raised when a tracker's citizen leaves every safe zone.
const AlarmLeftZone = vagt.AlarmLeftSafeZone

// Position is one fix from a tracker, normalised from either protocol.
type Position struct {
	Tracker  string    // the tracker's id (its MQTT user name, or the OsmAnd id)
	At       time.Time // when the fix was taken (the tracker's clock), second precision
	Lat, Lon float64   // WGS84 degrees
	Acc      float64   // horizontal accuracy in metres; 0: not given
	Battery  int       // percent, -1: not given
	Panic    bool      // the tracker's panic button (docs/gps.md says what counts)
	Source   string    // "owntracks" or "osmand"
}

// Rejection is why a position was refused: a stable reason for metrics and logs, and
// a message for the sender.
type Rejection struct {
	Reason string
	Msg    string
}

func (r *Rejection) Error() string { return "gps: " + r.Reason + ": " + r.Msg }

// Is makes errors.Is(err, ErrRejected) true for every rejection.
func (r *Rejection) Is(target error) bool { return target == ErrRejected }

// ErrRejected matches every Rejection.
var ErrRejected = errors.New("gps: position rejected")

// The rejection reasons (label values of vagt_gps_rejected_total).
const (
	ReasonMalformed    = "malformed"     // not the protocol's shape
	ReasonUnsupported  = "unsupported"   // a message type we do not read (OwnTracks lwt, card, ...)
	ReasonRange        = "out_of_range"  // latitude, longitude, accuracy or battery out of range
	ReasonFuture       = "future"        // taken later than now plus the allowed skew
	ReasonTooOld       = "too_old"       // older than the retention period: never stored
	ReasonInaccurate   = "inaccurate"    // accuracy worse than the threshold
	ReasonOutOfOrder   = "out_of_order"  // older than a position already accepted
	ReasonDuplicate    = "duplicate"     // the same fix again (a redelivery): nothing changes
	ReasonUnknown      = "unknown"       // no such tracker, or a wrong key
	ReasonImpersonated = "impersonation" // a tracker sending for another tracker
)

func reject(reason, format string, args ...any) error {
	return &Rejection{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the rejection reason of err, or "" for another error.
func ReasonOf(err error) string {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// trackerID is a tracker's id and MQTT user name: "gps." and 3-60 of [a-z0-9-]. The dot
// keeps trackers and gateways apart (no gateway id has one), so a gateway's login cannot
// publish as a tracker and a tracker's cannot publish as a gateway (deploy/mosquitto/acl).
var trackerID = regexp.MustCompile(`^gps\.[a-z0-9-]{3,60}$`)

// ValidTrackerID reports whether id is a tracker id.
func ValidTrackerID(id string) bool { return trackerID.MatchString(id) }

// Check applies the checks that need no stored state: coordinates and accuracy in range,
// not from the future, not older than maxAge, accurate enough for a zone decision.
func (p *Position) Check(now time.Time, l Limits) error {
	switch {
	case p.Lat != p.Lat || p.Lon != p.Lon || p.Acc != p.Acc: // NaN
		return reject(ReasonRange, "a coordinate is not a number")
	case p.Lat < -90 || p.Lat > 90:
		return reject(ReasonRange, "latitude %g outside -90..90", p.Lat)
	case p.Lon < -180 || p.Lon > 180:
		return reject(ReasonRange, "longitude %g outside -180..180", p.Lon)
	case p.Lat == 0 && p.Lon == 0:
		return reject(ReasonRange, "latitude and longitude 0,0: no fix")
	case p.Acc < 0 || p.Acc > 1e6:
		return reject(ReasonRange, "accuracy %g m outside 0..1000000", p.Acc)
	case p.Battery < -1 || p.Battery > 100:
		return reject(ReasonRange, "battery %d outside 0..100", p.Battery)
	case p.At.IsZero() || p.At.Unix() <= 0:
		return reject(ReasonRange, "no time of fix")
	case p.At.After(now.Add(l.Skew)):
		return reject(ReasonFuture, "fix at %s is later than the platform's clock (%s) plus %s", p.At.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), l.Skew)
	case p.At.Before(now.Add(-l.Retention)):
		return reject(ReasonTooOld, "fix at %s is older than the retention period %s", p.At.UTC().Format(time.RFC3339), l.Retention)
	case p.Acc > l.MaxAccuracy:
		return reject(ReasonInaccurate, "accuracy %g m is worse than the threshold %g m", p.Acc, l.MaxAccuracy)
	}
	return nil
}

// Limits are the checks and thresholds of the GPS side (flags of vagt api, docs/gps.md).
type Limits struct {
	MaxAccuracy float64       // metres; a fix less accurate is refused; default 100
	Hysteresis  float64       // metres beyond the zone's edge (after accuracy) that count as out; default 50
	Skew        time.Duration // how far in the future a fix may be; default 2 min
	Retention   time.Duration // positions are deleted after this; default 7 days
	LowBattery  int           // percent at or under which a low_battery alert is raised; default 15
	Silence     time.Duration // a tracker not heard from this long gets a silent_device alert; default 30 min
	Track       int           // how many positions an alarm shows; default 20
}

// WithDefaults fills in the zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxAccuracy <= 0 {
		l.MaxAccuracy = 100
	}
	if l.Hysteresis <= 0 {
		l.Hysteresis = 50
	}
	if l.Skew <= 0 {
		l.Skew = 2 * time.Minute
	}
	if l.Retention <= 0 {
		l.Retention = 7 * 24 * time.Hour
	}
	if l.LowBattery <= 0 {
		l.LowBattery = 15
	}
	if l.Silence <= 0 {
		l.Silence = 30 * time.Minute
	}
	if l.Track <= 0 {
		l.Track = 20
	}
	return l
}

// TrackPosition is a stored position as an alert shows it.
type TrackPosition struct {
	At      time.Time `json:"at"`
	Lat     float64   `json:"lat"`
	Lon     float64   `json:"lon"`
	Acc     float64   `json:"acc_m"`
	Battery *int      `json:"battery,omitempty"`
}

// Track is what the console draws for a tracker's alert: where the person was last seen
// and the zone they left. Only an alert's track reaches the console, never the history.
type Track struct {
	Alert        int64                 `json:"alert"`
	Type         vagt.AlarmType        `json:"type"`
	Tracker      string                `json:"tracker"`
	Address      string                `json:"address,omitempty"` // the citizen's, from the registry
	Zones        []Zone                `json:"zones"`
	Positions    []TrackPosition       `json:"positions"` // oldest first; the last is where the person was last seen
	Municipality vagt.MunicipalityCode `json:"-"`
	District     int64                 `json:"-"`
}
