// Package influx is the api's InfluxDB adapter: it reads the measurements ingest writes
// (which devices reported, a citizen's readings, the alarm history, night supervision's
// sensor state) and deletes them for erasure and retention. Every query takes a bounded
// time range. Its consumers (api/stats, api/night, api/rollup, api/retention, api/httpapi)
// each declare the small interface they need.
package influx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxapi "github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/rollup"
)

// Config names the InfluxDB that ingest writes to. Bucket is "db/rp" on 1.8.
type Config struct {
	URL, Org, Bucket, Token string
	Timeout                 time.Duration // per query; default 30 s
}

// Telemetry reads (and, for erasure and retention, deletes) the measurements ingest
// writes: reading (tags mun gw dev kind tech, field value) and alarm (tags mun gw dev
// priority type). Every query takes a bounded time range.
type Telemetry struct {
	c      Config
	client influxdb2.Client
	http   *http.Client
}

// NewTelemetry makes a client; it does not connect until asked.
func NewTelemetry(c Config) (*Telemetry, error) {
	if c.URL == "" || c.Bucket == "" {
		return nil, errors.New("stats: InfluxDB URL and bucket are required")
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Org == "" {
		c.Org = "vagt"
	}
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(uint(c.Timeout / time.Second))
	client := influxdb2.NewClientWithOptions(c.URL, c.Token, opts)
	return &Telemetry{c: c, client: client, http: &http.Client{Timeout: c.Timeout}}, nil
}

// queryAPI returns a QueryAPI for one query: v2.14's caches its URL without a lock on
// first use, a data race when queries run concurrently on one instance.
func (t *Telemetry) queryAPI() influxapi.QueryAPI { return t.client.QueryAPI(t.c.Org) }

// Close releases the client.
func (t *Telemetry) Close() { t.client.Close() }

// v1 reports whether the bucket is a 1.x "db/rp".
func (t *Telemetry) v1() bool { return strings.Contains(t.c.Bucket, "/") }

func fluxTime(tm time.Time) string { return tm.UTC().Format(time.RFC3339Nano) }

// fluxStop is range()'s stop for a half-open [from, to): InfluxDB 1.8.10's range() keeps
// a point stamped exactly at stop (TestRollup caught a reading at local midnight counted
// on both days), so stop is the last nanosecond before to.
func fluxStop(to time.Time) string { return fluxTime(to.Add(-time.Nanosecond)) }

// munPredicate is the Flux filter on mun; none means every municipality.
func munPredicate(muns []vagt.MunicipalityCode) string {
	if len(muns) == 0 {
		return ""
	}
	parts := make([]string, len(muns))
	for i, m := range muns {
		parts[i] = `r.mun == "` + strconv.Itoa(int(m)) + `"`
	}
	return " and (" + strings.Join(parts, " or ") + ")"
}

// ActiveDevices returns the ids of the devices that sent at least one reading in [from,
// to) in the municipalities (none: all). No keep() before group(): InfluxDB 1.8.10
// plans keep/group/distinct as a tag-values read, which answered no rows here
// (TestStatistics caught it).
func (t *Telemetry) ActiveDevices(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.DeviceID]bool, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: unbounded telemetry query", api.ErrInvalid)
	}
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "reading" and r._field == "value"%s)
  |> group()
  |> distinct(column: "dev")`, t.c.Bucket, fluxTime(from), fluxStop(to), munPredicate(muns))
	res, err := t.queryAPI().Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrNoTelemetry, err)
	}
	defer res.Close()
	out := map[vagt.DeviceID]bool{}
	for res.Next() {
		if v, ok := res.Record().Value().(string); ok {
			out[vagt.DeviceID(v)] = true
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrNoTelemetry, err)
	}
	return out, nil
}

// MaxExportReadings caps a citizen's telemetry export per request.
const MaxExportReadings = 200_000

// Readings returns the readings of the gateways in [from, to), oldest first.
func (t *Telemetry) Readings(ctx context.Context, gws []vagt.GatewayID, from, to time.Time) ([]registry.Reading, error) {
	out := []registry.Reading{}
	if len(gws) == 0 {
		return out, nil
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: unbounded telemetry query", api.ErrInvalid)
	}
	parts := make([]string, len(gws))
	for i, g := range gws {
		if err := g.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		parts[i] = `r.gw == "` + string(g) + `"`
	}
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "reading" and r._field == "value" and (%s))
  |> keep(columns: ["_time", "_value", "gw", "dev", "kind"])
  |> group()
  |> sort(columns: ["_time", "gw", "dev", "kind"])
  |> limit(n: %d)`, t.c.Bucket, fluxTime(from), fluxStop(to), strings.Join(parts, " or "), MaxExportReadings)
	res, err := t.queryAPI().Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrNoTelemetry, err)
	}
	defer res.Close()
	for res.Next() {
		r := res.Record()
		v, _ := r.Value().(float64)
		gw, _ := r.ValueByKey("gw").(string)
		dev, _ := r.ValueByKey("dev").(string)
		kind, _ := r.ValueByKey("kind").(string)
		out = append(out, registry.Reading{Time: r.Time().UTC(), Gateway: vagt.GatewayID(gw), Device: vagt.DeviceID(dev), Kind: kind, Value: v})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrNoTelemetry, err)
	}
	return out, nil
}

// DeleteGateways deletes every point (readings and alarm history) of the gateways. On 1.8
// it is InfluxQL DELETE through /query (the only delete 1.8 has); on 2.x the delete API
// with the predicate gw="<id>" over all time. Every id is validated before anything is
// deleted: the ids go into the statement, and a bad one must change nothing.
func (t *Telemetry) DeleteGateways(ctx context.Context, gws []vagt.GatewayID) error {
	for _, g := range gws {
		if err := g.Validate(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
	}
	for _, g := range gws {
		var err error
		if t.v1() {
			err = t.influxQL(ctx, fmt.Sprintf(`DELETE WHERE "gw" = '%s'`, g))
		} else {
			err = t.client.DeleteAPI().DeleteWithName(ctx, t.c.Org, t.c.Bucket, time.Unix(0, 0).UTC(), time.Now().Add(24*time.Hour).UTC(), fmt.Sprintf(`gw="%s"`, g))
		}
		if err != nil {
			return fmt.Errorf("%w: delete telemetry of %s: %w", api.ErrNoTelemetry, g, err)
		}
	}
	return nil
}

// DeleteBefore deletes a municipality's points older than before (per-municipality
// retention shorter than the bucket's). 2.x's delete range includes its stop, so it
// stops a nanosecond before, as 1.8's `time < before` does.
func (t *Telemetry) DeleteBefore(ctx context.Context, m vagt.MunicipalityCode, before time.Time) error {
	var err error
	if t.v1() {
		err = t.influxQL(ctx, fmt.Sprintf(`DELETE WHERE "mun" = '%d' AND time < %d`, m, before.UnixNano()))
	} else {
		err = t.client.DeleteAPI().DeleteWithName(ctx, t.c.Org, t.c.Bucket, time.Unix(0, 0).UTC(), before.Add(-time.Nanosecond).UTC(), fmt.Sprintf(`mun="%d"`, m))
	}
	if err != nil {
		return fmt.Errorf("%w: retention of %d: %w", api.ErrNoTelemetry, m, err)
	}
	return nil
}

// influxQL runs one InfluxQL statement on the 1.x database through /query.
func (t *Telemetry) influxQL(ctx context.Context, stmt string) error {
	db, _, _ := strings.Cut(t.c.Bucket, "/")
	form := url.Values{"db": {db}, "q": {stmt}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.c.URL, "/")+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if t.c.Token != "" {
		req.Header.Set("Authorization", "Token "+t.c.Token)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 || strings.Contains(string(body), `"error"`) {
		return fmt.Errorf("influxql %q: %s: %s", stmt, resp.Status, body)
	}
	return nil
}

// Reporters returns every (municipality, gateway, device) that sent a reading in [from,
// to), once each. first() per series before group() keeps the merge to one row per
// series instead of one per point.
func (t *Telemetry) Reporters(ctx context.Context, from, to time.Time) ([]rollup.Reporter, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: unbounded telemetry query", api.ErrInvalid)
	}
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "reading" and r._field == "value")
  |> first()
  |> group()`, t.c.Bucket, fluxTime(from), fluxStop(to))
	res, err := t.queryAPI().Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrNoTelemetry, err)
	}
	defer res.Close()
	seen := map[rollup.Reporter]bool{}
	out := []rollup.Reporter{}
	for res.Next() {
		r := res.Record()
		mun, _ := r.ValueByKey("mun").(string)
		gw, _ := r.ValueByKey("gw").(string)
		dev, _ := r.ValueByKey("dev").(string)
		m, err := strconv.Atoi(mun)
		if err != nil || dev == "" {
			continue // not a reading ingest wrote
		}
		rep := rollup.Reporter{Municipality: vagt.MunicipalityCode(m), Gateway: vagt.GatewayID(gw), Device: vagt.DeviceID(dev)}
		if !seen[rep] {
			seen[rep] = true
			out = append(out, rep)
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrNoTelemetry, err)
	}
	return out, nil
}
