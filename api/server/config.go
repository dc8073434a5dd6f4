package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/retention"
	"github.com/vagt-dk/vagt/api/rollup"
)

// Config configures the API server.
type Config struct {
	Listen string // host:port; default 127.0.0.1:8080
	// MetricsListen serves /metrics (plain HTTP, no token) on a listener of its own, for a
	// Prometheus on the host or its private network; "" none. MetricsToken serves /metrics
	// on Listen as well, to that bearer token only; "" not there (docs/operations.md).
	MetricsListen, MetricsToken string
	DB                          string // SQLite file path, or a postgres:// URL
	// Broker is the platform broker's URL; "" runs without the alarm lane (tests of the
	// HTTP side, a replica that only serves).
	Broker   string
	ClientID string // the lane's persistent session; stable per replica
	Group    string // "" or "-" (vagt.NoGroup, the default): a direct subscription; else a shared subscription group

	// NoAlarmLane says that running without a broker is intended (a replica that only
	// serves, a test of the HTTP side). Without it an api with no broker is not ready:
	// it can never receive an alarm (issue 15 defect 6).
	NoAlarmLane bool

	// TLSCA, TLSCert and TLSKey are PEM files for an ssl:// broker: its CA, and the client
	// certificate and key when the broker wants one.
	TLSCA, TLSCert, TLSKey string
	// HTTPSCert and HTTPSKey are PEM files of the api's own server certificate: with them
	// it serves HTTPS (TLS 1.2 or later) on Listen; without, plain HTTP for a proxy in front.
	HTTPSCert, HTTPSKey string
	Username, Password  string
	Workers             int           // lane committers; default 4
	Policy              alerts.Policy // zero: alerts.DefaultPolicy()
	Tick                time.Duration // how often escalation and offline detection look; default 1 s
	FeedPoll            time.Duration // how often the stream looks for events without a wake-up; default 1 s
	StreamWriteTimeout  time.Duration // default 10 s
	// MaxStreams and MaxStreamsPerPrincipal cap the open live streams (429 past them);
	// default httpapi.DefaultMaxStreams, DefaultMaxStreamsPerPrincipal.
	MaxStreams, MaxStreamsPerPrincipal int
	// OIDC, when Issuer is set, accepts the identity provider's JWTs beside vagt tokens.
	OIDC auth.OIDCConfig
	// SignIn, when its client id is set, signs staff in to the pages with the OIDC
	// provider (authorization code with PKCE); it needs OIDC.Issuer.
	SignIn auth.SignInConfig
	// NationalLogin signs citizens and their relatives in to the citizen page /mig with
	// the municipality's MitID broker (docs/citizen.md); unset: not offered.
	NationalLogin auth.NationalLoginConfig
	// Influx is the telemetry store ingest writes to, for statistics, citizen export and
	// erasure; URL "" runs without (those answer 503, alerts go on).
	Influx influx.Config
	// BenefitModel is a JSON file with the benefit model; "" the shipped illustrative one.
	BenefitModel string
	// Population65 is Statistics Denmark's FOLK1A as exported from statbank.dk (the
	// citizens aged 65+ per municipality, docs/statistics.md); "" the shipped illustrative table.
	Population65 string
	// Retention anonymises alert records and applies per-municipality telemetry retention.
	Retention retention.Policy
	// Rollup is the daily roll-up of which devices reported, that adoption statistics
	// read instead of every reading (docs/statistics.md); it needs Influx.
	Rollup rollup.Policy
	// ConfigRepublish is how long after publishing a home's configuration to a gateway
	// that still reports an older version it is published again; default 1 min.
	ConfigRepublish time.Duration
	// GPS are the GPS trackers' thresholds and retention (docs/gps.md); zero: defaults.
	GPS gps.Limits
}

// Defaults fills in what is unset.
func (c *Config) Defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Policy.Escalate == nil {
		c.Policy = alerts.DefaultPolicy()
	}
}

// Validate checks the configuration, after Defaults.
func (c *Config) Validate() error {
	if c.DB == "" {
		return errors.New("api: a database (SQLite path or postgres:// URL) is required")
	}
	if c.Broker != "" && c.ClientID == "" {
		return errors.New("api: the alarm lane needs a client id")
	}
	if c.Broker != "" && c.NoAlarmLane {
		return errors.New("api: a broker and no alarm lane: choose one")
	}
	if c.SignIn.Enabled() && c.OIDC.Issuer == "" {
		return errors.New("api: OIDC sign-in needs --oidc-issuer")
	}
	if err := c.SignIn.Validate(); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if err := c.NationalLogin.Validate(); err != nil {
		return fmt.Errorf("api: national login: %w", err)
	}
	return c.Policy.Validate()
}
