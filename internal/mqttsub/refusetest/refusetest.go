// Package refusetest starts a real Mosquitto that refuses chosen subscriptions with SUBACK
// 0x80, for the tests of vagt's subscribers, and lets a test lift the refusal while
// clients stay connected (an operator fixing the broker's ACL).
//
// Mosquitto's acl_file (deploy/mosquitto/acl) cannot do this: Mosquitto 2.0 grants every
// SUBSCRIBE it governs and only withholds the messages (TestACLFileGrantsDeniedSubscription
// in this package shows it). Its dynamic-security plugin checks subscriptions and answers
// 0x80, so it is used here; NATS answers 0x80 too (its ACL, its consumer limit), but takes
// seconds to start.
package refusetest

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// User and Password are the login whose subscriptions the broker refuses; it may publish
// and subscribe to anything else. Admin (with Password too) may subscribe to anything,
// always: a test's observer of what User publishes.
const (
	User     = "subscriber"
	Password = "subscriber-pw"
	Admin    = "dynsec-admin"
)

// Broker is a Mosquitto with the dynamic-security plugin.
type Broker struct {
	*localstack.Mosquitto
	t     testing.TB
	admin mqtt.Client
	resp  chan []byte
}

// Start starts a broker for t that refuses User's subscriptions to each filter in deny
// (compared literally, as the client spells the filter). It skips t when the plugin is
// not installed (unless VAGT_REQUIRE_SERVICES=1).
func Start(t testing.TB, deny ...string) *Broker {
	t.Helper()
	return start(t, true, deny)
}

// StartRefusingAll starts a broker for t that refuses every subscription of User until
// AllowAll. Lifting this refusal keeps the clients connected (a role's change makes the
// plugin disconnect the role's clients, a change of the default does not), so a test sees
// whether a subscriber asks again by itself while connected.
func StartRefusingAll(t testing.TB) *Broker {
	t.Helper()
	return start(t, false, nil)
}

func start(t testing.TB, subscribe bool, deny []string) *Broker {
	t.Helper()
	plugin := findPlugin()
	if plugin == "" {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatal("refusetest: mosquitto_dynamic_security.so not found (apt-get install mosquitto)")
		}
		t.Skip("refusetest: mosquitto_dynamic_security.so not found")
	}
	conf := filepath.Join(t.TempDir(), "dynamic-security.json")
	if err := os.WriteFile(conf, dynsecConfig(t, subscribe, deny), 0o600); err != nil {
		t.Fatal(err)
	}
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{
		Extra: "plugin " + plugin + "\nplugin_opt_config_file " + conf,
	})
	b := &Broker{Mosquitto: m, t: t, resp: make(chan []byte, 1)}
	b.admin = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("refusetest-admin").
		SetUsername(Admin).SetPassword(Password))
	if tok := b.admin.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("refusetest: admin connect: %v", tok.Error())
	}
	t.Cleanup(func() { b.admin.Disconnect(0) })
	return b
}

// AllowAll grants User's subscriptions from now on (StartRefusingAll); connected clients
// stay connected, and their next SUBSCRIBE is granted.
func (b *Broker) AllowAll() {
	b.t.Helper()
	b.command(map[string]any{"command": "setDefaultACLAccess", "acls": []map[string]any{{"acltype": "subscribe", "allow": true}}})
}

// RefuseAll refuses User's subscriptions from now on, but those Start's deny names stay
// refused and those already granted stay granted; connected clients stay connected (a
// restart of the broker, Restart, makes them subscribe again).
func (b *Broker) RefuseAll() {
	b.t.Helper()
	b.command(map[string]any{"command": "setDefaultACLAccess", "acls": []map[string]any{{"acltype": "subscribe", "allow": false}}})
}

// Allow lifts the refusal of filter: the next SUBSCRIBE to it is granted. The plugin
// disconnects User's clients (their role changed); they reconnect.
func (b *Broker) Allow(filter string) {
	b.t.Helper()
	b.command(map[string]any{"command": "removeRoleACL", "rolename": "refused",
		"acltype": "subscribeLiteral", "topic": filter})
}

// Deny refuses filter from now on (a subscription already granted stays).
func (b *Broker) Deny(filter string) {
	b.t.Helper()
	b.command(map[string]any{"command": "addRoleACL", "rolename": "refused",
		"acltype": "subscribeLiteral", "topic": filter, "allow": false, "priority": 10})
}

func (b *Broker) command(c map[string]any) {
	b.t.Helper()
	// Subscribed anew each time: the broker may have restarted (Restart) since.
	tok := b.admin.Subscribe("$CONTROL/dynamic-security/v1/response", 1, func(_ mqtt.Client, m mqtt.Message) {
		b.resp <- append([]byte(nil), m.Payload()...)
	})
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		b.t.Fatalf("refusetest: admin subscribe: %v", tok.Error())
	}
	body, _ := json.Marshal(map[string]any{"commands": []any{c}})
	if tok := b.admin.Publish("$CONTROL/dynamic-security/v1", 1, false, body); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		b.t.Fatalf("refusetest: %s: %v", c["command"], tok.Error())
	}
	select {
	case r := <-b.resp:
		var out struct {
			Responses []struct{ Command, Error string }
		}
		if err := json.Unmarshal(r, &out); err != nil || len(out.Responses) != 1 || out.Responses[0].Error != "" {
			b.t.Fatalf("refusetest: %s: %s", c["command"], r)
		}
	case <-time.After(30 * time.Second): // a bound, not a target
		b.t.Fatalf("refusetest: %s: no response", c["command"])
	}
}

func findPlugin() string {
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib", "/opt/homebrew/lib"} {
		p := filepath.Join(dir, "mosquitto_dynamic_security.so")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// dynsecConfig is the plugin's file: User with a role that refuses the deny filters (any
// other subscription follows the default, subscribe), and an admin that may change roles
// and the default over $CONTROL.
func dynsecConfig(t testing.TB, subscribe bool, deny []string) []byte {
	t.Helper()
	type acl struct {
		Type     string `json:"acltype"`
		Topic    string `json:"topic"`
		Allow    bool   `json:"allow"`
		Priority int    `json:"priority"`
	}
	refused := []acl{}
	for _, f := range deny {
		refused = append(refused, acl{"subscribeLiteral", f, false, 10})
	}
	client := func(name, role string) map[string]any {
		salt := make([]byte, 12)
		_, _ = rand.Read(salt)
		key, err := pbkdf2.Key(sha512.New, Password, salt, 101, sha512.Size)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"username": name, "password": base64.StdEncoding.EncodeToString(key),
			"salt": base64.StdEncoding.EncodeToString(salt), "iterations": 101,
			"roles": []map[string]string{{"rolename": role}}}
	}
	everything := []acl{{"publishClientSend", "#", true, 0}, {"publishClientReceive", "#", true, 0},
		{"unsubscribePattern", "#", true, 0}}
	cfg := map[string]any{
		"clients": []any{client(User, "refused"), client(Admin, "admin")},
		"roles": []any{
			map[string]any{"rolename": "refused", "acls": append(refused, everything...)},
			map[string]any{"rolename": "admin", "acls": append([]acl{
				{"publishClientSend", "$CONTROL/dynamic-security/#", true, 0},
				{"publishClientReceive", "$CONTROL/dynamic-security/#", true, 0},
				{"subscribePattern", "#", true, 0}}, everything...)},
		},
		"defaultACLAccess": map[string]bool{"publishClientSend": true, "publishClientReceive": true, "subscribe": subscribe, "unsubscribe": true},
	}
	b, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
