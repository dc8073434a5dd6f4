package vagt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt"
)

func TestClientTLSRefusesWhatItCannotUse(t *testing.T) {
	if c, err := vagt.ClientTLS("", "", ""); c != nil || err != nil {
		t.Fatalf("no files: %v %v", c, err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, ca, cert, key, says string }{
		{"a missing CA file", filepath.Join(dir, "missing.pem"), "", "", "broker CA"},
		{"a CA file without a certificate", notPEM, "", "", "no PEM certificate"},
		{"a certificate without its key", "", notPEM, "", "client certificate"},
		{"a key without its certificate", "", "", notPEM, "client certificate"},
	} {
		if _, err := vagt.ClientTLS(c.ca, c.cert, c.key); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.says)
		}
	}
}
