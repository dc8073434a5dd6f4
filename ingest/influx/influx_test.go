package influx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/ingest/influx"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// TestSetupCreatesDatabase: on 1.8, Setup creates a missing database with the retention
// asked for, leaves an existing one alone, and writes then land in it, in both write modes.
func TestSetupCreatesDatabase(t *testing.T) {
	target := stacktest.SharedInfluxDB(t)
	db := target.Database + "_setup"
	for _, raw := range []bool{false, true} {
		w, err := influx.New(influx.Config{URL: target.URL, Bucket: db + "/autogen", Token: target.Token, Raw: raw})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ctx := context.Background()
		for range 2 { // the second time it exists
			if err := w.Setup(ctx, 720*time.Hour); err != nil {
				t.Fatalf("setup: %v", err)
			}
		}
		t.Cleanup(func() { _, _ = w.Query1x(context.Background(), "DROP DATABASE "+influx.QuoteIdent(db)) })
		body, err := w.Query1x(ctx, "SHOW RETENTION POLICIES ON "+influx.QuoteIdent(db))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), `"autogen","720h0m0s"`) {
			t.Errorf("retention policies: %s", body)
		}
		if err := w.WritePoints(ctx, []byte("reading,gw=gw-1 value=1 1795403520000\nreading,gw=gw-1 value=2 1795403520001\n")); err != nil {
			t.Fatalf("write (raw %v): %v", raw, err)
		}
		body, err = w.Query1x(ctx, `SELECT count(value) FROM `+influx.QuoteIdent(db)+`."autogen"."reading"`)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), `,2]]`) {
			t.Errorf("raw %v: count: %s", raw, body)
		}
	}
}

// TestWriteErrors: a refused write is permanent, an unreachable server transient.
func TestWriteErrors(t *testing.T) {
	target := stacktest.SharedInfluxDB(t)
	w, err := influx.New(influx.Config{URL: target.URL, Bucket: target.Bucket, Token: target.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var we *influx.WriteError
	err = w.WritePoints(context.Background(), []byte("reading value=notanumber 1\n"))
	if !errors.As(err, &we) || !we.Permanent() {
		t.Errorf("bad line protocol: %v, want a permanent WriteError", err)
	}
	down, err := influx.New(influx.Config{URL: "http://127.0.0.1:1", Bucket: "x/autogen", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	err = down.WritePoints(context.Background(), []byte("reading value=1 1\n"))
	if !errors.As(err, &we) || we.Permanent() {
		t.Errorf("unreachable server: %v, want a transient WriteError", err)
	}
}

// TestWriteLargeBatch: a batch the size ingest writes (5,000 lines, ~500 KB: well past
// net/http's 32 KB copy buffer) lands whole on InfluxDB 1.8 in both write modes — the raw
// one sends it chunked — and a write of it again stores no second copy.
func TestWriteLargeBatch(t *testing.T) {
	target := stacktest.SharedInfluxDB(t)
	var lines []byte
	for i := range 5000 {
		lines = fmt.Appendf(lines, "reading,dev=0x00158d00%08x,gw=load-000001,kind=temperature,mun=101,tech=environment_sensor value=%d.%02d %d\n",
			i%25, 20+i%7, i%100, 1795403520000+int64(i/25)*1000)
	}
	for _, raw := range []bool{false, true} {
		db := fmt.Sprintf("%s_large_%v", target.Database, raw)
		w, err := influx.New(influx.Config{URL: target.URL, Bucket: db + "/autogen", Token: target.Token, Raw: raw})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ctx := context.Background()
		if err := w.Setup(ctx, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = w.Query1x(context.Background(), "DROP DATABASE "+influx.QuoteIdent(db)) })
		for range 2 {
			if err := w.WritePoints(ctx, lines); err != nil {
				t.Fatalf("raw %v: write: %v", raw, err)
			}
		}
		body, err := w.Query1x(ctx, `SELECT count(value) FROM `+influx.QuoteIdent(db)+`."autogen"."reading"`)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), `,5000]]`) {
			t.Errorf("raw %v: %d bytes written twice, count: %s", raw, len(lines), body)
		}
	}
}
