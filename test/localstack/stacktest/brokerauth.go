package stacktest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/test/localstack"
)

// NATSClusterWithAuth starts a NATS cluster (as NATSCluster) whose clients are authorized by
// vagt's auth callout service, package brokerauth, run in this test process with o (its
// Issuer is made here), and stops both when t ends. opts.Users must be empty.
func NATSClusterWithAuth(t testing.TB, opts localstack.NATSClusterOptions, o brokerauth.Options) *localstack.NATSCluster {
	t.Helper()
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := issuer.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	opts.Callout = &localstack.NATSCallout{Issuer: pub, User: "vagt-broker-auth", Password: hex.EncodeToString(secret)}
	c := NATSCluster(t, opts)
	o.Issuer = issuer
	BrokerAuth(t, c.ClientURLs(), opts.Callout.User, opts.Callout.Password, o)
	return c
}

// BrokerAuth runs the auth callout service against the nodes at urls (logged in as user),
// one per node as in production, until t ends.
func BrokerAuth(t testing.TB, urls []string, user, password string, o brokerauth.Options) {
	t.Helper()
	a, err := brokerauth.NewAuthorizer(o)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := brokerauth.ServeEach(brokerauth.Login{URLs: urls, User: user, Password: password, Logger: o.Logger}, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
}
