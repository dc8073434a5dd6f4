package influx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/night"
)

// bedRun bounds how many bed readings per device are read to find when the citizen went
// to bed: a bed sensor reports on change and hourly, so a night is well within it.
const bedRun = 60

// Night reads night supervision's sensor state from the readings ingest writes (measurement reading,
// tags gw dev kind, field value), with bounded Flux queries: the last value per device and
// kind within night.StateHorizon.
type Night struct {
	client influxdb2.Client
	org    string
	bucket string
}

// NewNight makes a reader on the InfluxDB at url (bucket "db/rp" on 1.8).
func NewNight(url, org, bucket, token string, timeout time.Duration) (*Night, error) {
	if url == "" || bucket == "" {
		return nil, errors.New("influx: InfluxDB URL and bucket are required")
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if org == "" {
		org = "vagt"
	}
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(uint(max(timeout/time.Second, 1)))
	return &Night{client: influxdb2.NewClientWithOptions(url, token, opts), org: org, bucket: bucket}, nil
}

// Close releases the client.
func (r *Night) Close() { r.client.Close() }

func gwPredicate(gws []vagt.GatewayID) string {
	parts := make([]string, len(gws))
	for i, g := range gws {
		parts[i] = fmt.Sprintf("r.gw == %q", string(g))
	}
	return "(" + strings.Join(parts, " or ") + ")"
}

// Sensors returns the state of the gateways' sensors at now (readings in [now -
// night.StateHorizon, now]). An error wraps night.ErrUnknown.
func (r *Night) Sensors(ctx context.Context, gws []vagt.GatewayID, now time.Time) (map[vagt.GatewayID]night.Sensors, error) {
	out := map[vagt.GatewayID]night.Sensors{}
	if len(gws) == 0 {
		return out, nil
	}
	base := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "reading" and r._field == "value" and %s)`,
		r.bucket, now.Add(-night.StateHorizon).UTC().Format(time.RFC3339Nano), now.Add(time.Millisecond).UTC().Format(time.RFC3339Nano), gwPredicate(gws))
	queries := []string{
		// Door, temperature, water: the last value of each device.
		base + `
  |> filter(fn: (r) => r.kind == "door_open" or r.kind == "temperature" or r.kind == "water_leak")
  |> group(columns: ["gw", "dev", "kind"])
  |> last()`,
		// Motion: the last reading that saw motion.
		base + `
  |> filter(fn: (r) => r.kind == "motion" and r._value > 0.5)
  |> group(columns: ["gw", "dev", "kind"])
  |> last()`,
		// Bed: the last few readings, to find when the citizen went to bed.
		base + `
  |> filter(fn: (r) => r.kind == "bed_occupied")
  |> group(columns: ["gw", "dev", "kind"])
  |> tail(n: ` + fmt.Sprint(bedRun) + `)`,
	}
	type point struct {
		at  time.Time
		val float64
	}
	latest := map[vagt.GatewayID]map[string]point{} // gw → kind → the most recent over devices
	doorOpen := map[vagt.GatewayID]bool{}
	water := map[vagt.GatewayID]bool{}
	bed := map[string][]point{} // gw|dev → readings, oldest first
	for qi, q := range queries {
		res, err := r.client.QueryAPI(r.org).Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", night.ErrUnknown, err)
		}
		for res.Next() {
			rec := res.Record()
			gw, _ := rec.ValueByKey("gw").(string)
			dev, _ := rec.ValueByKey("dev").(string)
			kind, _ := rec.ValueByKey("kind").(string)
			v, ok := rec.Value().(float64)
			if !ok || gw == "" {
				continue
			}
			p := point{rec.Time(), v}
			g := vagt.GatewayID(gw)
			if qi == 2 {
				bed[gw+"|"+dev] = append(bed[gw+"|"+dev], p)
				continue
			}
			if latest[g] == nil {
				latest[g] = map[string]point{}
			}
			if old, seen := latest[g][kind]; !seen || p.at.After(old.at) {
				latest[g][kind] = p
			}
			// Any door open or any water sensor wet makes the home's state so.
			if kind == "door_open" && v > 0.5 {
				doorOpen[g] = true
			}
			if kind == "water_leak" && v > 0.5 {
				water[g] = true
			}
		}
		err = res.Err()
		res.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", night.ErrUnknown, err)
		}
	}
	for g, kinds := range latest {
		s := out[g]
		if _, ok := kinds["door_open"]; ok {
			s.DoorOpen = ptr(doorOpen[g])
		}
		if _, ok := kinds["water_leak"]; ok {
			s.Water = ptr(water[g])
		}
		if p, ok := kinds["temperature"]; ok {
			s.Temperature = ptr(p.val)
		}
		if p, ok := kinds["motion"]; ok {
			s.LastMotion = ptr(p.at.UTC())
		}
		out[g] = s
	}
	for key, ps := range bed {
		gw, _, _ := strings.Cut(key, "|")
		g := vagt.GatewayID(gw)
		s := out[g]
		last := ps[len(ps)-1]
		in := last.val > 0.5
		if s.InBed != nil && !*s.InBed {
			out[g] = s // another bed sensor of the home says empty: keep that
			continue
		}
		s.InBed, s.InBedSince = ptr(in), nil
		if in {
			since := last.at
			for i := len(ps) - 1; i >= 0 && ps[i].val > 0.5; i-- {
				since = ps[i].at
			}
			s.InBedSince = ptr(since.UTC())
		}
		out[g] = s
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
