package ingest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/ingest/influx"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// patience bounds every wait for an outcome: long enough for a loaded 2-core machine,
// never the thing a test asserts.
const patience = 2 * time.Minute

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runIngest runs ingest.Run for the test and returns its HTTP address; the cleanup stops
// it and fails the test if Run failed.
func runIngest(t *testing.T, cfg ingest.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- ingest.Run(ctx, cfg, ingest.Deps{Logger: testLogger(t), Listener: ln, Started: func(string) { close(started) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest.Run: %v", err)
		}
	})
	select {
	case <-started:
	case err := <-done:
		done <- err
		t.Fatalf("ingest did not start: %v", err)
	case <-time.After(patience):
		t.Fatal("ingest did not start")
	}
	return ln.Addr().String()
}

func baseConfig(broker string, target localstack.InfluxTarget, clientID string) ingest.Config {
	return ingest.Config{
		Broker: broker, ClientID: clientID,
		InfluxURL: target.URL, InfluxBucket: target.Bucket, InfluxToken: target.Token,
		BatchPoints: 1000, Linger: 20 * time.Millisecond, InFlight: 200, DrainTimeout: 5 * time.Second,
	}
}

// counter queries one database of a 1.8 server.
type counter struct {
	w  *influx.Writer
	db string
}

func newCounter(t *testing.T, target localstack.InfluxTarget) *counter {
	t.Helper()
	w, err := influx.New(influx.Config{URL: target.URL, Bucket: target.Bucket, Token: target.Token, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return &counter{w: w, db: target.Database}
}

// perGateway returns count(field) of measurement per gw tag; an error (a server that is
// down) is returned, not fatal, so callers can poll through outages.
func (c *counter) perGateway(ctx context.Context, measurement, field string) (map[string]uint64, error) {
	q := fmt.Sprintf(`SELECT count(%q) FROM %s."autogen".%q GROUP BY "gw"`, field, influx.QuoteIdent(c.db), measurement)
	body, err := c.w.Query1x(ctx, q)
	if err != nil {
		return nil, err
	}
	var r struct {
		Results []struct {
			Series []struct {
				Tags   map[string]string `json:"tags"`
				Values [][]any           `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, res := range r.Results {
		for _, s := range res.Series {
			if len(s.Values) == 1 && len(s.Values[0]) == 2 {
				n, _ := s.Values[0][1].(float64)
				out[s.Tags["gw"]] = uint64(n)
			}
		}
	}
	return out, nil
}

func total(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

// waitStored polls until the database holds as many readings and alarms as the report
// says were sent, then checks them per gateway. Fewer is a loss, more a bug in the test's
// arithmetic (points are idempotent, so a redelivery cannot add any).
func (c *counter) waitStored(t *testing.T, r load.Report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var readings, alarms map[string]uint64
	for {
		var err error
		readings, err = c.perGateway(ctx, "reading", "value")
		if err == nil {
			alarms, err = c.perGateway(ctx, "alarm", "seq")
		}
		if err == nil && total(readings) >= r.Readings && total(alarms) >= r.Alarms {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stored %d of %d readings and %d of %d alarms (last error %v)", total(readings), r.Readings, total(alarms), r.Alarms, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	for gw, want := range r.PerGateway {
		if readings[gw] != want.Readings || alarms[gw] != want.Alarms {
			t.Errorf("gateway %s: stored %d readings and %d alarms, sent %d and %d", gw, readings[gw], alarms[gw], want.Readings, want.Alarms)
		}
	}
	if total(readings) != r.Readings || total(alarms) != r.Alarms {
		t.Errorf("stored %d readings and %d alarms, sent %d and %d", total(readings), total(alarms), r.Readings, r.Alarms)
	}
}

// metric reads one sample from ingest's /metrics ("name" or `name{label="v"}`); absent is 0.
func metric(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		name, value, ok := strings.Cut(s.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return v
		}
	}
	return 0
}

// waitMetric polls until cond holds for the series.
func waitMetric(t *testing.T, addr, series string, cond func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		v := metric(t, addr, series)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("metric %s stayed at %v", series, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runLoad(t *testing.T, cfg load.Config) load.Report {
	t.Helper()
	r, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if r.Readings == 0 {
		t.Fatal("load sent nothing")
	}
	return r
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
