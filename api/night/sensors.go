package night

import (
	"errors"
	"time"
)

// StateHorizon is how far back the board looks for a sensor's last reading: a reading
// older than this is not the home's state any more.
const StateHorizon = 24 * time.Hour

// Sensors is the sensors' last state per gateway, as the telemetry store (api/influx) knows it.
type Sensors struct {
	InBed       *bool
	InBedSince  *time.Time
	LastMotion  *time.Time
	DoorOpen    *bool
	Temperature *float64
	Water       *bool
}

// ErrUnknown is the sensors' state not being known: InfluxDB did not answer.
var ErrUnknown = errors.New("night: sensor state unknown (InfluxDB did not answer)")

func ptr[T any](v T) *T { return &v }
