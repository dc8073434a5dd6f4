package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// --new-issuer writes a seed once and prints the public key nats.conf trusts; a second run
// does not replace the key the nodes already trust.
func TestBrokerAuthNewIssuer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker-auth.nk")
	var out bytes.Buffer
	run := func() error {
		out.Reset()
		return commands.Run(context.Background(), "vagt", []string{"broker-auth", "--new-issuer", "--issuer-seed", path},
			func(string) string { return "" }, &out, &out)
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(out.String())
	seed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := kp.PublicKey(); got != pub || !nkeys.IsValidPublicAccountKey(pub) {
		t.Fatalf("printed %q, the seed's key is %q", pub, got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("seed file mode %v, want 0600", st.Mode().Perm())
	}
	if err := run(); err == nil {
		t.Fatal("a second --new-issuer replaced the seed")
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, seed) {
		t.Fatal("the seed changed")
	}
}
