package main

import (
	"context"
	"flag"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

func init() {
	commands["api"] = subcmd.Command{
		Summary: "serve care alerts (REST + live stream) from the alarm lane, with the SQL store",
		Run:     runAPI,
	}
}

func runAPI(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg server.Config
	cfg.Policy = alerts.DefaultPolicy()
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("vagt api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve /metrics on this address of its own, without a token (empty: none)")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", "", "serve /metrics on --listen too, to this bearer token only (empty: not there)")
	fs.StringVar(&cfg.DB, "db", "var/vagt.db", "SQLite file, or postgres://user@host/db for several replicas")
	fs.StringVar(&cfg.Broker, "broker", "", "MQTT broker URL (tcp://host:1883); empty: no alarm lane, and /readyz says not ready unless --no-alarm-lane")
	fs.BoolVar(&cfg.NoAlarmLane, "no-alarm-lane", false, "run without a broker on purpose (a replica that only serves): /readyz is ready although no alarm can arrive")
	fs.StringVar(&cfg.ClientID, "client-id", "vagt-api-"+host, "MQTT client id, stable per replica (the broker keeps the session under it)")
	fs.StringVar(&cfg.Username, "username", "", "MQTT user name")
	fs.StringVar(&cfg.Password, "password", "", "MQTT password")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "PEM file with the broker's CA (ssl:// brokers)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM client certificate for the broker")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM client key for the broker")
	fs.StringVar(&cfg.HTTPSCert, "https-cert", "", "PEM server certificate: serve HTTPS on --listen (empty: plain HTTP, for a TLS proxy in front)")
	fs.StringVar(&cfg.HTTPSKey, "https-key", "", "PEM key of --https-cert")
	fs.StringVar(&cfg.Group, "group", "-", "'-': subscribe directly, every replica takes every alarm (the store deduplicates; survives broker restarts); or a shared subscription group, e.g. vagt-alerts, only with a broker that keeps $share subscriptions across restarts")
	fs.IntVar(&cfg.Workers, "workers", 4, "alarm lane committers")
	fs.DurationVar(&cfg.Tick, "tick", time.Second, "how often escalation and offline detection look")
	critical := fs.Duration("escalate-critical", cfg.Policy.Escalate[vagt.PriorityCritical], "unacknowledged critical alerts go to the next tier after this (0: never)")
	high := fs.Duration("escalate-high", cfg.Policy.Escalate[vagt.PriorityHigh], "the same for high priority")
	technical := fs.Duration("escalate-technical", cfg.Policy.Escalate[vagt.PriorityTechnical], "the same for technical alerts")
	fs.IntVar(&cfg.Policy.OfflineFactor, "offline-factor", cfg.Policy.OfflineFactor, "missed heartbeat intervals before a gateway counts as silent")
	fs.DurationVar(&cfg.Policy.OfflineGrace, "offline-grace", cfg.Policy.OfflineGrace, "how long a gateway stays offline before it gets an alert")
	fs.DurationVar(&cfg.Policy.OnlineStable, "online-stable", cfg.Policy.OnlineStable, "how long a gateway stays back before its offline alert resolves itself")
	fs.DurationVar(&cfg.Policy.NeverConnected, "never-connected-grace", cfg.Policy.NeverConnected, "a gateway provisioned this long ago that never connected gets a technical alert (0: never)")
	fs.DurationVar(&cfg.Policy.ArriveWithin, "arrive-within", cfg.Policy.ArriveWithin, "help promised in the home this long after an alarm: an alert someone is on the way to escalates when nobody arrived by then (0: one escalation step after on my way)")
	fs.StringVar(&cfg.OIDC.Issuer, "oidc-issuer", "", "accept JWTs from this OpenID Connect issuer (exact iss); empty: vagt tokens only")
	fs.StringVar(&cfg.OIDC.Audience, "oidc-audience", "", "required aud of OIDC bearer tokens; empty: --oidc-client-id")
	fs.StringVar(&cfg.OIDC.JWKSURL, "oidc-jwks-url", "", "signing keys; default: jwks_uri from the issuer's discovery document")
	oidcAlgs := fs.String("oidc-algorithms", "RS256", "accepted signing algorithms, comma-separated (public-key only)")
	fs.StringVar(&cfg.SignIn.ClientID, "oidc-client-id", "", "sign staff in to the pages with the OIDC provider as this client (authorization code with PKCE; docs/operations.md); empty: pasted tokens only")
	fs.StringVar(&cfg.SignIn.ClientSecret, "oidc-client-secret", "", "the client's secret, from the environment file (VAGT_OIDC_CLIENT_SECRET); empty: a public client, PKCE only")
	fs.StringVar(&cfg.SignIn.RedirectURL, "oidc-redirect-url", "", "this api's /auth/callback as browsers reach it, registered at the provider, e.g. https://vagt.example.dk/auth/callback")
	oidcScopes := fs.String("oidc-scopes", "openid,profile,email", "scopes the sign-in asks for, comma-separated")
	fs.DurationVar(&cfg.SignIn.SessionLifetime, "oidc-session-lifetime", 12*time.Hour, "how long the session token from a sign-in lives (at most the role's default token lifetime)")
	fs.StringVar(&cfg.Influx.URL, "influx-url", "", "InfluxDB that ingest writes to, for statistics, citizen export and erasure; empty: those answer 503")
	fs.StringVar(&cfg.Influx.Org, "influx-org", "vagt", "InfluxDB 2.x organisation (ignored by 1.8)")
	fs.StringVar(&cfg.Influx.Bucket, "influx-bucket", "vagt/autogen", "InfluxDB bucket; on 1.8 database/retention-policy")
	fs.StringVar(&cfg.Influx.Token, "influx-token", "", "InfluxDB token; on 1.8 user:password")
	fs.StringVar(&cfg.BenefitModel, "benefit-model", "", "JSON file with the benefit model (docs/statistics.md); empty: the shipped illustrative model")
	fs.StringVar(&cfg.Population65, "population65", "", "Statistics Denmark's FOLK1A exported from statbank.dk as CSV with codes: citizens aged 65+ per municipality (docs/statistics.md); empty: the shipped illustrative figures")
	fs.DurationVar(&cfg.Retention.KeepAlerts, "keep-alerts", 10*365*24*time.Hour, "resolved alerts are anonymised (who acted, notes, details, home) after this")
	fs.DurationVar(&cfg.Retention.Every, "retention-every", time.Hour, "how often the retention job runs")
	rollupOn := fs.Bool("rollup", true, "keep the daily roll-up of devices that reported, that adoption statistics read (needs --influx-url); false: statistics read InfluxDB alone")
	fs.DurationVar(&cfg.Rollup.Every, "rollup-every", time.Hour, "how often the roll-up job runs")
	fs.IntVar(&cfg.Rollup.RedoDays, "rollup-redo-days", 7, "the last closed days rolled up again once a day, for readings gateways deliver late")
	fs.IntVar(&cfg.Rollup.BackfillDays, "rollup-backfill-days", 400, "how many days back the roll-up goes; older days are read from InfluxDB")
	fs.IntVar(&cfg.Rollup.DaysPerRun, "rollup-days-per-run", 31, "most days one roll-up run asks InfluxDB for")
	fs.IntVar(&cfg.MaxStreams, "max-streams", httpapi.DefaultMaxStreams, "most live alert streams open at once on this replica (429 with Retry-After past it)")
	fs.IntVar(&cfg.MaxStreamsPerPrincipal, "max-streams-per-principal", httpapi.DefaultMaxStreamsPerPrincipal, "most live alert streams one user or token has open at once")
	fs.DurationVar(&cfg.ConfigRepublish, "config-republish", time.Minute, "how long after publishing a home's configuration to a gateway that still reports an older version it is published again")
	fs.Float64Var(&cfg.GPS.MaxAccuracy, "gps-max-accuracy", 100, "GPS positions less accurate than this many metres are refused (docs/gps.md)")
	fs.Float64Var(&cfg.GPS.Hysteresis, "gps-hysteresis", 50, "metres beyond a safe zone's edge, after the fix's accuracy, before leaving it raises an alarm")
	fs.DurationVar(&cfg.GPS.Retention, "gps-retention", 7*24*time.Hour, "GPS positions (personal data) are deleted this long after they arrived")
	fs.IntVar(&cfg.GPS.LowBattery, "gps-low-battery", 15, "a tracker reporting this battery percentage or less gets a technical alert")
	fs.DurationVar(&cfg.GPS.Silence, "gps-silence", 30*time.Minute, "a tracker not heard from this long gets a technical alert")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	cfg.OIDC.Algorithms = strings.Split(*oidcAlgs, ",")
	cfg.SignIn.Scopes = strings.Split(*oidcScopes, ",")
	if cfg.OIDC.Audience == "" {
		// An ID token from the sign-in's provider is for the client id.
		cfg.OIDC.Audience = cfg.SignIn.ClientID
	}
	cfg.Rollup.Off = !*rollupOn
	cfg.Policy.Escalate = map[vagt.Priority]time.Duration{
		vagt.PriorityCritical: *critical, vagt.PriorityHigh: *high, vagt.PriorityTechnical: *technical,
	}
	logger, err := subcmd.Logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, cfg, server.Deps{Logger: logger.With("component", "api")})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
