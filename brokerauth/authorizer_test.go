package brokerauth_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/brokerauth"
)

// request is what a node sends for an MQTT client: signed by the server's key, with a fresh
// user key the answer must name.
func request(t *testing.T, server nkeys.KeyPair, user, password, clientID string) (token []byte, userKey string) {
	t.Helper()
	ukp, _ := nkeys.CreateUser()
	userKey, _ = ukp.PublicKey()
	spub, _ := server.PublicKey()
	rc := jwt.NewAuthorizationRequestClaims("AXXX")
	rc.Audience = "nats-authorization-request"
	rc.UserNkey = userKey
	rc.Server = jwt.ServerID{Name: "nats-1", ID: spub}
	rc.ClientInformation = jwt.ClientInformation{Type: "mqtt", MQTT: clientID}
	rc.ConnectOptions = jwt.ConnectOptions{Username: user, Password: password}
	s, err := rc.Encode(server)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s), userKey
}

func TestRespond(t *testing.T) {
	issuer, _ := nkeys.CreateAccount()
	issuerPub, _ := issuer.PublicKey()
	server, _ := nkeys.CreateServer()
	serverPub, _ := server.PublicKey()
	passwd := writePasswd(t, "gw-a", "secret")
	pf, err := brokerauth.OpenPasswordFile(passwd)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	a, err := brokerauth.NewAuthorizer(brokerauth.Options{Issuer: issuer, Passwords: pf, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(req []byte) *jwt.AuthorizationResponseClaims {
		t.Helper()
		out, err := a.Respond(req)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := jwt.DecodeAuthorizationResponseClaims(string(out))
		if err != nil {
			t.Fatal(err)
		}
		if rc.Issuer != issuerPub || rc.Audience != serverPub {
			t.Fatalf("answer issued by %s for %s, want %s for the server %s", rc.Issuer, rc.Audience, issuerPub, serverPub)
		}
		return rc
	}

	req, userKey := request(t, server, "gw-a", "secret", "gw-a")
	rc := answer(req)
	if rc.Error != "" || rc.Subject != userKey {
		t.Fatalf("granted answer: error %q, subject %s (want %s)", rc.Error, rc.Subject, userKey)
	}
	uc, err := jwt.DecodeUserClaims(rc.Jwt)
	if err != nil {
		t.Fatal(err)
	}
	if uc.Issuer != issuerPub || uc.Subject != userKey || uc.Audience != "$G" || uc.Name != "gw-a" {
		t.Errorf("user claims: issuer %s subject %s audience %s name %s", uc.Issuer, uc.Subject, uc.Audience, uc.Name)
	}
	if !subjects(uc.Pub.Allow).has("vagt.v1.gw.gw-a.alarm") || subjects(uc.Pub.Allow).has("vagt.v1.gw.*.alarm") ||
		!subjects(uc.Sub.Allow).has("vagt.v1.gw.gw-a.downlink") || len(uc.Sub.Allow) != 2 {
		t.Errorf("permissions: publish %v, subscribe %v", uc.Pub.Allow, uc.Sub.Allow)
	}
	if len(uc.AllowedConnectionTypes) != 1 || uc.AllowedConnectionTypes[0] != jwt.ConnectionTypeMqtt {
		t.Errorf("connection types %v, want MQTT only", uc.AllowedConnectionTypes)
	}

	// A gateway that tries to take over another's session in a tight loop: every attempt
	// refused and counted, one log line for the burst.
	for range 100 {
		req, _ := request(t, server, "gw-a", "secret", "vagt-api-0")
		if rc := answer(req); rc.Error == "" || rc.Jwt != "" || !strings.Contains(rc.Error, "client_id") {
			t.Fatalf("takeover answer: error %q, jwt %q", rc.Error, rc.Jwt)
		}
	}
	for _, c := range []struct{ user, password, clientID, reason string }{
		{"gw-a", "wrong", "gw-a", brokerauth.ReasonBadPassword},
		{"", "", "gw-a", brokerauth.ReasonNoIdentity},
	} {
		req, _ := request(t, server, c.user, c.password, c.clientID)
		if rc := answer(req); !strings.HasPrefix(rc.Error, c.reason+":") {
			t.Errorf("%+v: error %q, want reason %s", c, rc.Error, c.reason)
		}
	}
	if got := decisions(t, reg, brokerauth.ReasonClientID); got != 100 {
		t.Errorf("client_id refusals counted %v, want 100", got)
	}
	if got := decisions(t, reg, "granted"); got != 1 {
		t.Errorf("granted %v, want 1", got)
	}
	if n := strings.Count(logs.String(), "reason=client_id"); n != 1 {
		t.Errorf("the burst of 100 takeover attempts logged %d lines, want 1:\n%s", n, logs.String())
	}
	if _, err := a.Respond([]byte("not a jwt")); err == nil {
		t.Error("a request that is no JWT got an answer")
	}
}

type subjects []string

func (s subjects) has(x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
