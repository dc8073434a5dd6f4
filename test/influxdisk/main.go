// Command influxdisk measures what vagt's telemetry costs on InfluxDB 1.8's disk once
// compacted: bytes per point and per series, for the sizing in docs/scaling.md
// ("InfluxDB sizing"). It writes days of readings of simulated homes in the lines ingest
// writes (ingest.AppendBatch from the wire form, so tags, values and times are exactly
// production's), with the disk index (tsi1) production uses, lets InfluxDB compact the
// cold shards fully, and divides the data directory's size by the points stored.
//
//	go run ./test/influxdisk                       (make bench-influx-disk)
//	go run ./test/influxdisk -homes 2000 -days 3
//
// Two profiles of telemetry:
//
//	home:  what a home sends: climate every 5 min (a random walk at the wire's
//	       resolution), power every minute, motion, door and bed as events, battery
//	       hourly, link quality with each climate report; report times jittered by seconds.
//	bench: the load generator's values every second, on the second (make bench-ingest's
//	       data): regular times and sawtooth values, the best case for compression.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/test/internal/probe"
	"github.com/vagt-dk/vagt/test/localstack"
)

type options struct {
	homes, benchHomes int
	days, benchDays   float64
	profiles          string
	settle            time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var o options
	flag.IntVar(&o.homes, "homes", 1000, "homes (gateways)")
	flag.Float64Var(&o.days, "days", 2, "days of telemetry per home (ending now)")
	flag.IntVar(&o.benchHomes, "bench-homes", 20, "homes of the bench profile (a reading a second per sensor: 777,600 a home a day)")
	flag.Float64Var(&o.benchDays, "bench-days", 0.25, "days of the bench profile")
	flag.StringVar(&o.profiles, "profiles", "home,bench", "telemetry profiles to measure: home, bench")
	flag.DurationVar(&o.settle, "settle", 20*time.Second, "the data directory must keep its size this long (no WAL left) to count as compacted")
	flag.Parse()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "influxdisk:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "vagt-influxdisk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Cold shards are snapshotted and fully compacted seconds after the last write instead
	// of the defaults' 10 min and 4 h, so what is measured is what a shard becomes.
	db, err := localstack.StartInfluxDB(ctx, localstack.InfluxDBOptions{DisableFlux: true, TSI1: true, DataDir: dir,
		DataConfig: "  cache-snapshot-write-cold-duration = \"2s\"\n  compact-full-write-cold-duration = \"5s\"\n"})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Printf("InfluxDB 1.8 (tsi1 index) in %s; load average %s\n", dir, probe.LoadAvg())
	for _, profile := range strings.Split(o.profiles, ",") {
		if err := measure(ctx, db, dir, o, profile); err != nil {
			return fmt.Errorf("%s: %w", profile, err)
		}
	}
	return nil
}

func measure(ctx context.Context, db *localstack.InfluxDB, dir string, o options, profile string) error {
	gen, ok := profiles[profile]
	if !ok {
		return fmt.Errorf("no profile %q (home, bench)", profile)
	}
	database := "disk_" + profile
	if err := db.CreateDatabase(ctx, database); err != nil {
		return err
	}
	url := db.URL() + "/api/v2/write?bucket=" + database + "/autogen&precision=ms"
	client := &http.Client{Timeout: 2 * time.Minute}
	homes, days := o.homes, o.days
	if profile == "bench" {
		homes, days = o.benchHomes, o.benchDays
	}
	end := time.Now().Truncate(time.Hour)
	start := end.Add(-time.Duration(days * float64(24*time.Hour)))
	var (
		points, series int
		body           []byte
		wb             vagt.WireBatch
		began          = time.Now()
	)
	for h := range homes {
		rs := gen(h, start, end)
		series += countSeries(rs)
		// One home's readings as the gateway batches them (≤ 500 readings) through the wire
		// form and ingest's line protocol; written 50,000 lines at a time.
		for i := 0; i < len(rs); i += 500 {
			b := vagt.Batch{Gateway: load.GatewayID("disk", h), Seq: uint64(i/500 + 1), Municipality: vagt.Municipalities()[h%98].Code,
				Readings: rs[i:min(i+500, len(rs))]}
			data, err := vagt.EncodeBatch(&b)
			if err != nil {
				return err
			}
			if err := vagt.DecodeBatchWire(data, &wb); err != nil {
				return err
			}
			body = ingest.AppendBatch(body, &wb)
			points += len(b.Readings)
			if len(body) > 5<<20 {
				if err := write(ctx, client, url, body); err != nil {
					return err
				}
				body = body[:0]
			}
		}
	}
	if len(body) > 0 {
		if err := write(ctx, client, url, body); err != nil {
			return err
		}
	}
	written := time.Since(began)
	stored, err := probe.Count(ctx, db.URL(), `SELECT count(value) FROM "`+database+`"."autogen"."reading"`)
	if err != nil {
		return err
	}
	if stored != uint64(points) {
		return fmt.Errorf("stored %d of %d points (two readings of one series at one ms?)", stored, points)
	}
	sizes, err := settle(ctx, dir, database, o.settle)
	if err != nil {
		return err
	}
	perHomeDay := float64(points) / float64(homes) / days
	fmt.Printf("\n[%s] %d points in %d series (%d homes × %g days), written in %.1f s\n", profile, points, series, homes, days, written.Seconds())
	fmt.Printf("    compacted: TSM %s; shard index (tsi1) %s; series file %s (preallocated segments: a fixed cost at this size); other %s\n",
		mib(sizes.tsm), mib(sizes.index), mib(sizes.series), mib(sizes.other))
	fmt.Printf("    TSM: %.2f bytes per point; with the shard index %.2f; %.0f points per series per day\n",
		float64(sizes.tsm)/float64(points), float64(sizes.tsm+sizes.index)/float64(points), float64(points)/float64(series)/days)
	fmt.Printf("    one home: %.0f points a day, %s of TSM a year; load average %s\n",
		perHomeDay, mib(int64(float64(sizes.tsm)/float64(homes)/days*365)), probe.LoadAvg())
	return nil
}

func write(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("write: %s", resp.Status)
	}
	return nil
}

type dirSizes struct{ tsm, index, series, other, wal int64 }

// settle waits until the database's shards hold no WAL and their size has not changed for
// d: the cold shards are then snapshotted and fully compacted.
func settle(ctx context.Context, dir, database string, d time.Duration) (dirSizes, error) {
	var last dirSizes
	stable := time.Now()
	deadline := time.Now().Add(15 * time.Minute)
	for {
		s, err := sizesOf(dir, database)
		if err != nil {
			return s, err
		}
		if s != last || s.wal > 0 {
			last, stable = s, time.Now()
		} else if time.Since(stable) >= d {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, errors.New("the data directory did not settle within 15 min")
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// sizesOf sums the database's files: TSM data, the shards' tsi1 index, the database's
// series file and the rest under data/, and what is left of its WAL.
func sizesOf(dir, database string) (dirSizes, error) {
	var s dirSizes
	err := filepath.WalkDir(filepath.Join(dir, "data", database), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(path, ".tsm"):
			s.tsm += info.Size()
		case strings.Contains(path, string(filepath.Separator)+"_series"+string(filepath.Separator)):
			s.series += info.Size()
		case strings.Contains(path, string(filepath.Separator)+"index"+string(filepath.Separator)):
			s.index += info.Size()
		default:
			s.other += info.Size()
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	err = filepath.WalkDir(filepath.Join(dir, "wal", database), func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err == nil {
			s.wal += info.Size()
		}
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return s, err
}

func countSeries(rs []vagt.Reading) int {
	type key struct {
		dev  vagt.DeviceID
		kind vagt.Kind
	}
	seen := map[key]struct{}{}
	for _, r := range rs {
		seen[key{r.Device, r.Kind}] = struct{}{}
	}
	return len(seen)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// profiles make one home's readings between start and end, in time order.
var profiles = map[string]func(home int, start, end time.Time) []vagt.Reading{
	"home":  homeProfile,
	"bench": benchProfile,
}

// benchProfile is the load generator's nine sensors sampled every second, on the second.
func benchProfile(home int, start, end time.Time) []vagt.Reading {
	var rs []vagt.Reading
	for k, t := 0, start; t.Before(end); k, t = k+1, t.Add(time.Second) {
		for s := range 9 {
			kind, v := load.SensorReading(s, k)
			rs = append(rs, vagt.Reading{Device: vagt.DeviceID(fmt.Sprintf("0x00158d00%04x%04x", home, s)), Kind: kind, Time: t, Value: v})
		}
	}
	return rs
}

// homeProfile is a home of six devices as Zigbee reports them (docs/zigbee.md): a climate
// sensor, a motion sensor with illuminance, a door contact, a bed sensor and a smart plug.
// Values move as rooms do: temperature and humidity by small steps at the wire's
// resolution, illuminance with the day, presence as events.
func homeProfile(home int, start, end time.Time) []vagt.Reading {
	rnd := rand.New(rand.NewPCG(uint64(home), 7))
	dev := func(i int) vagt.DeviceID { return vagt.DeviceID(fmt.Sprintf("0x00158d01%04x%04x", home, i)) }
	var rs []vagt.Reading
	add := func(d int, k vagt.Kind, t time.Time, v float64) {
		rs = append(rs, vagt.Reading{Device: dev(d), Kind: k, Time: t.Truncate(time.Millisecond), Value: v})
	}
	jitter := func() time.Duration { return time.Duration(rnd.Int64N(int64(10 * time.Second))) }
	temp, hum, battery := 20+rnd.Float64()*3, 40+rnd.Float64()*10, 100.0
	for t := start; t.Before(end); t = t.Add(5 * time.Minute) {
		at := t.Add(jitter())
		temp = math.Round((temp+rnd.NormFloat64()*0.05)*100) / 100
		hum = math.Round((hum+rnd.NormFloat64()*0.3)*10) / 10
		add(0, vagt.KindTemperature, at, temp)
		add(0, vagt.KindHumidity, at, math.Min(100, math.Max(0, hum)))
		add(0, vagt.KindLinkQuality, at, float64(120+rnd.IntN(60)))
		hour := float64(at.Hour()) + float64(at.Minute())/60
		lux := math.Max(0, 400*math.Sin((hour-6)/14*math.Pi)) + float64(rnd.IntN(20))
		add(1, vagt.KindIlluminance, at.Add(time.Second), math.Round(lux))
	}
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		add(4, vagt.KindPower, t.Add(jitter()/10), math.Round((35+rnd.NormFloat64()*5)*10)/10)
	}
	for t := start; t.Before(end); t = t.Add(time.Hour) {
		battery = math.Max(1, battery-rnd.Float64()*0.05)
		for d := range 4 {
			add(d, vagt.KindBattery, t.Add(jitter()), math.Round(battery))
		}
	}
	// Events: motion by day about every 10 min (on, off 90 s later), the door a few times
	// a day, the bed in the evening and the morning.
	for t := start; t.Before(end); {
		t = t.Add(time.Duration(rnd.ExpFloat64() * float64(10*time.Minute)))
		if h := t.Hour(); h >= 7 && h < 23 {
			add(1, vagt.KindMotion, t, 1)
			add(1, vagt.KindMotion, t.Add(90*time.Second), 0)
		}
	}
	for t := start; t.Before(end); {
		t = t.Add(time.Duration(rnd.ExpFloat64() * float64(3*time.Hour)))
		add(2, vagt.KindDoorOpen, t, 1)
		add(2, vagt.KindDoorOpen, t.Add(time.Duration(5+rnd.IntN(60))*time.Second), 0)
	}
	for day := start.Truncate(24 * time.Hour); day.Before(end); day = day.Add(24 * time.Hour) {
		add(3, vagt.KindBedOccupied, day.Add(22*time.Hour+jitter()*30), 1)
		add(3, vagt.KindBedOccupied, day.Add(31*time.Hour+jitter()*30), 0)
	}
	rs = keepBetween(rs, start, end)
	slices.SortStableFunc(rs, func(a, b vagt.Reading) int { return a.Time.Compare(b.Time) })
	// Two events of one sensor in one millisecond are one point in InfluxDB: keep the last.
	return slices.CompactFunc(rs, func(a, b vagt.Reading) bool {
		return a.Device == b.Device && a.Kind == b.Kind && a.Time.Equal(b.Time)
	})
}

func keepBetween(rs []vagt.Reading, start, end time.Time) []vagt.Reading {
	out := rs[:0]
	for _, r := range rs {
		if !r.Time.Before(start) && r.Time.Before(end) {
			out = append(out, r)
		}
	}
	return out
}
