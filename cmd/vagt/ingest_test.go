package main

import (
	"context"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestIngestFlagsFromEnv: VAGT_<FLAG> sets a flag the command line did not give, and the
// command line wins.
func TestIngestFlagsFromEnv(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	bucket := fs.String("influx-bucket", "vagt/autogen", "")
	points := fs.Int("batch-points", 5000, "")
	if err := fs.Parse([]string{"--batch-points", "7"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VAGT_INFLUX_BUCKET": "other/rp", "VAGT_BATCH_POINTS": "9"}
	if err := ingestFlagsFromEnv(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *bucket != "other/rp" || *points != 7 {
		t.Errorf("bucket %q, batch points %d; want other/rp from the environment and 7 from the command line", *bucket, *points)
	}
	env["VAGT_BATCH_POINTS"] = "many"
	fs2 := flag.NewFlagSet("t", flag.ContinueOnError)
	fs2.Int("batch-points", 5000, "")
	if err := ingestFlagsFromEnv(fs2, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "VAGT_BATCH_POINTS") {
		t.Errorf("a bad value: %v, want an error naming the variable", err)
	}
}

// TestIngestRefusesBadConfig: without a broker or a token file there is nothing to ingest,
// and the command says so instead of starting.
func TestIngestRefusesBadConfig(t *testing.T) {
	err := commands.Run(context.Background(), "vagt", []string{"ingest", "--broker", "", "--batch-points", "0"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "nothing to ingest") {
		t.Errorf("got %v, want a config error", err)
	}
}
