package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/nats-io/nkeys"

	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/test/localstack"
)

// authCluster is a NATS cluster whose clients are authorized as in production: by vagt's
// auth callout service (package brokerauth), one per node, run in this process.
type authCluster struct {
	*localstack.NATSCluster
	stopAuth func() error
}

func startAuthCluster(ctx context.Context, opts localstack.NATSClusterOptions) (*authCluster, error) {
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	pub, err := issuer.PublicKey()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	opts.Callout = &localstack.NATSCallout{Issuer: pub, User: "vagt-broker-auth", Password: hex.EncodeToString(secret)}
	c, err := localstack.StartNATSCluster(ctx, opts)
	if err != nil {
		return nil, err
	}
	a, err := brokerauth.NewAuthorizer(brokerauth.Options{Issuer: issuer})
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	stop, err := brokerauth.ServeEach(brokerauth.Login{URLs: c.ClientURLs(), User: opts.Callout.User, Password: opts.Callout.Password}, a)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return &authCluster{NATSCluster: c, stopAuth: stop}, nil
}

// Close stops the nodes, then the services (which wait for their nodes meanwhile).
func (c *authCluster) Close() error {
	err := c.NATSCluster.Close()
	return errors.Join(err, c.stopAuth())
}
