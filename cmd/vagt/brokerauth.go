package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

func init() {
	commands["broker-auth"] = subcmd.Command{
		Summary: "authorize the NATS cluster's MQTT clients (auth callout): client id bound to the user, per-gateway permissions",
		Run:     runBrokerAuth,
	}
}

// runBrokerAuth serves the NATS nodes' auth callout (deploy/nats/README.md), or with
// --new-issuer writes an issuer seed and prints its public key for nats.conf.
func runBrokerAuth(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt broker-auth", flag.ContinueOnError)
	servers := fs.String("nats", "nats://127.0.0.1:4222", "the nodes' NATS listeners, comma-separated (one per node's own loopback listener in production)")
	user := fs.String("user", "vagt-broker-auth", "this service's user on the nodes (their auth_callout auth_users)")
	password := fs.String("password", "", "this service's password on the nodes (better from VAGT_PASSWORD)")
	issuerFile := fs.String("issuer-seed", "/etc/nats/vagt/broker-auth.nk", "file with the issuer's account seed (SA…); its public key is auth_callout.issuer in nats.conf")
	newIssuer := fs.Bool("new-issuer", false, "write a new issuer seed to --issuer-seed (refused if it exists), print its public key, and exit")
	passwd := fs.String("passwd", "", "Mosquitto password file (mosquitto_passwd $7$ lines, as the registry writes) for clients without a certificate; empty: certificates only")
	registered := fs.String("registered", "", "file of the gateway and tracker ids that may connect, one a line, read again when it changes (a decommissioned gateway's certificate stays signed); empty: any id the CA signed")
	metrics := fs.String("metrics-listen", "", "serve /metrics (vagt_broker_auth_decisions_total) on this address (empty: none)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	if *newIssuer {
		return writeIssuer(*issuerFile, stdout)
	}
	logger, err := subcmd.Logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	logger = logger.With("component", "broker-auth")
	seed, err := os.ReadFile(*issuerFile)
	if err != nil {
		return fmt.Errorf("broker-auth: issuer seed: %w", err)
	}
	issuer, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return fmt.Errorf("broker-auth: issuer seed %s: %w", *issuerFile, err)
	}
	o := brokerauth.Options{Issuer: issuer, Logger: logger}
	if *passwd != "" {
		if o.Passwords, err = brokerauth.OpenPasswordFile(*passwd); err != nil {
			return err
		}
	}
	if *registered != "" {
		if o.Registered, err = brokerauth.OpenRegistered(*registered); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	a, err := brokerauth.NewAuthorizer(o)
	if err != nil {
		return err
	}
	if *metrics != "" {
		ln, err := net.Listen("tcp", *metrics)
		if err != nil {
			return fmt.Errorf("broker-auth: metrics: %w", err)
		}
		srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	nc, err := brokerauth.Connect(brokerauth.Login{URLs: strings.Split(*servers, ","), User: *user, Password: *password, Logger: logger})
	if err != nil {
		return err
	}
	defer nc.Close()
	logger.Info("answering the nodes' authorization requests", "nats", nc.ConnectedUrlRedacted())
	return brokerauth.Serve(ctx, nc, a, nil)
}

func writeIssuer(path string, stdout io.Writer) error {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return err
	}
	seed, err := kp.Seed()
	if err != nil {
		return err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("broker-auth: %s exists; the nodes trust its key, remove it first if you mean to replace it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(append(seed, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", pub)
	return err
}
