package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
	"github.com/vagt-dk/vagt/ingest"
)

func init() {
	commands["ingest"] = subcmd.Command{
		Summary: "store telemetry and alarm history from the broker (and POST /v1/telemetry) in InfluxDB",
		Run:     runIngest,
	}
}

func runIngest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg ingest.Config
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("vagt ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Broker, "broker", "", "MQTT broker URL (tcp://host:1883, ssl://host:8883); empty: HTTP path only")
	fs.StringVar(&cfg.ClientID, "client-id", "vagt-ingest-"+host, "MQTT client id, stable per replica (the broker keeps the session under it)")
	fs.StringVar(&cfg.Username, "username", "", "MQTT user name")
	fs.StringVar(&cfg.Password, "password", "", "MQTT password")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "PEM file with the broker's CA")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM client certificate for the broker")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM client key for the broker")
	fs.StringVar(&cfg.Group, "group", "-", "'-': subscribe directly (one replica; survives broker restarts); or a shared subscription group, e.g. vagt-ingest, for replicas that split the load — only with a broker that keeps $share subscriptions across restarts (Mosquitto 2.0.11 does not)")
	fs.StringVar(&cfg.Partition, "partition", "", "take telemetry partition N only (vagt/v1/gw/+/telemetry/N), one replica per partition: for a NATS cluster that splits telemetry by gateway with subject mapping (docs/scaling.md, \"Ingest replicas on NATS\"); empty: all telemetry")
	fs.StringVar(&cfg.DeadLetter, "dead-letter", "", "topic prefix for copies of rejected messages ({prefix}/{reason}/{topic}); empty: off")
	fs.StringVar(&cfg.InfluxURL, "influx-url", "http://127.0.0.1:8086", "InfluxDB URL")
	fs.StringVar(&cfg.InfluxOrg, "influx-org", "vagt", "InfluxDB 2.x organisation (ignored by 1.8)")
	fs.StringVar(&cfg.InfluxBucket, "influx-bucket", "vagt/autogen", "InfluxDB 2.x bucket, or db/rp for 1.8")
	fs.StringVar(&cfg.InfluxToken, "influx-token", "", "InfluxDB token (1.8: user:password)")
	fs.BoolVar(&cfg.InfluxRaw, "influx-raw", true, "post line protocol bytes through the client's HTTP service (saves a copy per batch); false: WriteAPIBlocking.WriteRecord")
	fs.BoolVar(&cfg.Setup, "setup", true, "create the database/bucket with the retention when missing")
	fs.DurationVar(&cfg.Retention, "retention", 0, "retention for --setup (e.g. 8760h); 0 keeps data forever")
	fs.IntVar(&cfg.BatchPoints, "batch-points", 5000, "points per write")
	fs.DurationVar(&cfg.Linger, "linger", 0, "how long a batch waits for more points (default 200ms)")
	fs.IntVar(&cfg.InFlight, "inflight", 1000, "messages taken in and not yet acknowledged; keep it >= the broker's max_inflight_messages")
	fs.Int64Var(&cfg.InFlightBytes, "inflight-bytes", 64<<20, "payload bytes taken in and not yet acknowledged; past it MQTT intake waits and POST /v1/telemetry answers 503 (over_memory)")
	fs.Int64Var(&cfg.MaxBodyLen, "max-message", 256<<10, "largest telemetry message (HTTP body or MQTT payload); a larger one is refused at once (413, or rejected too_large and acknowledged)")
	fs.IntVar(&cfg.Writers, "writers", 2, "concurrent writes to InfluxDB")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 0, "at shutdown, how long to keep writing what was taken in (default 10s)")
	fs.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8081", "HTTP listen address (/v1/telemetry, /healthz, /readyz, /metrics); loopback by default, a gateway-facing address behind TLS")
	fs.DurationVar(&cfg.HTTPWait, "http-wait", 0, "how long POST /v1/telemetry waits for its batch to be written before answering 503 with Retry-After; the batch may still be written, and a resend stores no second copy (default 10s)")
	fs.StringVar(&cfg.TokenFile, "tokens", "", "gateway token file for POST /v1/telemetry (lines: gateway-id sha256-hex); empty: endpoint off")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	logger, err := subcmd.Logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	return ingest.Run(ctx, cfg, ingest.Deps{Logger: logger.With("component", "ingest")})
}
