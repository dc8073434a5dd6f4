package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
)

// Config is everything `vagt ingest` can be told; cmd/vagt fills it from flags and VAGT_*
// environment variables. The zero value plus Defaults is a working local setup.
type Config struct {
	// MQTT. An empty Broker runs the HTTP path only.
	Broker     string
	ClientID   string // stable per replica: the broker keeps its session under this id
	Username   string
	Password   string
	TLSCA      string // PEM file: the broker's CA (ssl:// brokers)
	TLSCert    string // PEM files: a client certificate, when the broker asks for one
	TLSKey     string
	Group      string // shared subscription group
	Partition  string // telemetry partition on a NATS cluster with subject mapping (mqttin.Config.Partition); "" none
	DeadLetter string // topic prefix for copies of rejected messages; "" off

	// InfluxDB: 2.x (org, bucket, token) or 1.8 (bucket "db/rp", token "user:password").
	InfluxURL    string
	InfluxOrg    string
	InfluxBucket string
	InfluxToken  string
	InfluxRaw    bool          // post our line protocol bytes directly instead of WriteAPIBlocking.WriteRecord
	Setup        bool          // create the database/bucket when it is missing
	Retention    time.Duration // for Setup; 0 keeps data forever

	// Pipeline.
	BatchPoints int           // a write carries at most this many points (more when one message has more)
	Linger      time.Duration // a batch waits at most this long for more points
	InFlight    int           // messages taken in and not yet acknowledged (the intake queue)
	// InFlightBytes bounds their payload bytes as well: a few huge messages must not take
	// what a thousand small ones may.
	InFlightBytes int64
	Writers       int           // concurrent writes to InfluxDB
	DrainTimeout  time.Duration // at shutdown, how long to keep writing what was taken in

	// HTTP: POST /v1/telemetry, /healthz, /readyz, /metrics.
	HTTPAddr   string
	TokenFile  string // gateway tokens for POST /v1/telemetry; "" disables the endpoint
	MaxBodyLen int64
	// HTTPWait bounds how long POST /v1/telemetry waits for its batch to be written; then
	// it answers 503 with Retry-After (the batch may still be written; a resend adds no copy).
	HTTPWait time.Duration
}

// Defaults fills what is unset.
func (c *Config) Defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Group, vagt.NoGroup)
	def(&c.InfluxOrg, "vagt")
	def(&c.HTTPAddr, "127.0.0.1:8081") // loopback unless told: /metrics and the POST path are not for everybody
	if c.BatchPoints == 0 {
		c.BatchPoints = 5000
	}
	if c.Linger == 0 {
		c.Linger = 200 * time.Millisecond
	}
	if c.InFlight == 0 {
		c.InFlight = 1000
	}
	if c.Writers == 0 {
		c.Writers = 2
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.MaxBodyLen == 0 {
		c.MaxBodyLen = 256 << 10
	}
	if c.InFlightBytes == 0 {
		c.InFlightBytes = 64 << 20
	}
	if c.HTTPWait == 0 {
		c.HTTPWait = 10 * time.Second
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Broker != "" && c.ClientID == "" {
		errs = append(errs, errors.New("client id: required with a broker (stable per replica, e.g. the host name)"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls cert and key: give both or neither"))
	}
	if c.InfluxURL == "" || c.InfluxBucket == "" {
		errs = append(errs, errors.New("influx url and bucket: required"))
	}
	if c.BatchPoints < 1 || c.BatchPoints > 100000 {
		errs = append(errs, fmt.Errorf("batch points %d: want 1..100000", c.BatchPoints))
	}
	if c.Linger <= 0 {
		errs = append(errs, fmt.Errorf("linger %s: want > 0", c.Linger))
	}
	if c.InFlight < 1 {
		errs = append(errs, fmt.Errorf("in-flight %d: want >= 1", c.InFlight))
	}
	if c.InFlightBytes < c.MaxBodyLen {
		errs = append(errs, fmt.Errorf("in-flight bytes %d: want at least the largest message (max body %d)", c.InFlightBytes, c.MaxBodyLen))
	}
	if c.Writers < 1 || c.Writers > 64 {
		errs = append(errs, fmt.Errorf("writers %d: want 1..64", c.Writers))
	}
	if c.DrainTimeout < 0 || c.Retention < 0 {
		errs = append(errs, errors.New("drain timeout and retention: must not be negative"))
	}
	if c.HTTPWait < 0 {
		errs = append(errs, fmt.Errorf("http wait %s: want > 0", c.HTTPWait))
	}
	if c.Broker == "" && c.TokenFile == "" {
		errs = append(errs, errors.New("neither a broker nor an HTTP token file: nothing to ingest"))
	}
	return errors.Join(errs...)
}
