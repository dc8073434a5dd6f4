package registry_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// connects reports whether a real Mosquitto lets user in with password.
func connects(t *testing.T, m *localstack.Mosquitto, user, password string) bool {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID(user).SetUsername(user).SetPassword(password).
		SetConnectTimeout(30 * time.Second).SetAutoReconnect(false).SetConnectRetry(false)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(60 * time.Second) {
		t.Fatal("no CONNACK from the broker")
	}
	if tok.Error() != nil {
		return false
	}
	c.Disconnect(0)
	return true
}

// TestCredentialsAtTheBroker: the password_hash a gateway is provisioned with is a line a
// real Mosquitto accepts; a rotated password replaces the old one; after the revocation
// that decommissioning prints (mosquitto_passwd -D on the line), the gateway is refused.
func TestCredentialsAtTheBroker(t *testing.T) {
	first, err := registry.NewCredentials("gw-cred-1")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := registry.NewCredentials("gw-cred-1")
	if err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"svc_api": "service-password"} // so the broker keeps authenticating
	line := func(c registry.Credentials) string { return c.Username + ":" + c.PasswordHash + "\n" }

	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{PasswordFile: line(first), Users: other})
	if !connects(t, m, "gw-cred-1", first.Password) {
		t.Error("the provisioned password is refused")
	}
	if connects(t, m, "gw-cred-1", rotated.Password) || connects(t, m, "gw-cred-1", "") || connects(t, m, "gw-cred-2", first.Password) {
		t.Error("a wrong password or user got in")
	}

	m = stacktest.Mosquitto(t, localstack.MosquittoOptions{PasswordFile: line(rotated), Users: other})
	if !connects(t, m, "gw-cred-1", rotated.Password) || connects(t, m, "gw-cred-1", first.Password) {
		t.Error("after rotation: the new password must work and the old one not")
	}

	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		if os.Getenv("VAGT_REQUIRE_SERVICES") != "" {
			t.Fatal("mosquitto_passwd: ", err)
		}
		t.Skip("mosquitto_passwd not installed")
	}
	file := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(file, []byte(line(rotated)+"gw-cred-2:"+first.PasswordHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), passwd, "-D", file, "gw-cred-1").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd -D: %v %s", err, out)
	}
	left, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m = stacktest.Mosquitto(t, localstack.MosquittoOptions{PasswordFile: string(left), Users: other})
	if connects(t, m, "gw-cred-1", rotated.Password) {
		t.Error("the decommissioned gateway still gets in")
	}
	if !connects(t, m, "gw-cred-2", first.Password) {
		t.Error("revoking one gateway locked out another")
	}
}
