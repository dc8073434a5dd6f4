package brokerauth

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure an Authorizer.
type Options struct {
	// Issuer signs the answers; its public key (an account nkey, "A…") is the nodes'
	// auth_callout issuer. Required.
	Issuer nkeys.KeyPair
	// Policy decides what a proven user may do; nil: NewPolicy() with the default services.
	Policy *Policy
	// Passwords, if set, lets clients without a certificate log in with a user name and
	// password; nil: a verified client certificate is the only way in.
	Passwords *PasswordFile
	// Registered, if set, is the list of gateways and trackers that may connect at all
	// (a decommissioned gateway's certificate is still signed by the CA); nil: every id
	// the CA signed or the password file holds.
	Registered *Registered
	// Account is where authorized users are placed; default "$G", the account of a
	// configuration without accounts.
	Account string
	// Logger gets a line per refused connection, at most one per reason every 10 s with the
	// number left out (a reconnecting thief would otherwise fill the log); nil logs nothing.
	Logger *slog.Logger
	// Registerer gets vagt_broker_auth_decisions_total{result}; nil registers nothing.
	Registerer prometheus.Registerer
}

// Authorizer answers the nodes' authorization requests.
type Authorizer struct {
	o         Options
	issuerPub string
	decisions *prometheus.CounterVec

	mu     sync.Mutex
	bursts map[string]*burst
}

type burst struct {
	last    time.Time
	dropped int
}

// NewAuthorizer checks the options.
func NewAuthorizer(o Options) (*Authorizer, error) {
	if o.Issuer == nil {
		return nil, errors.New("brokerauth: an issuer key is required")
	}
	pub, err := o.Issuer.PublicKey()
	if err != nil || !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("brokerauth: the issuer must be an account key (A…): %q", pub)
	}
	if o.Policy == nil {
		if o.Policy, err = NewPolicy(); err != nil {
			return nil, err
		}
	}
	if o.Account == "" {
		o.Account = "$G"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authorizer{o: o, issuerPub: pub, bursts: map[string]*burst{},
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vagt_broker_auth_decisions_total",
			Help: "MQTT connections the cluster asked about, by result: granted or the refusal reason.",
		}, []string{"result"})}
	if o.Registerer != nil {
		if err := o.Registerer.Register(a.decisions); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Respond answers one request (the JWT the node sent): a signed authorization response that
// holds either the user's JWT with its permissions or the reason it was refused.
func (a *Authorizer) Respond(request []byte) ([]byte, error) {
	req, err := jwt.DecodeAuthorizationRequestClaims(string(request))
	if err != nil {
		a.count(ReasonBadRequest, "", "", err)
		return nil, fmt.Errorf("brokerauth: not an authorization request: %w", err)
	}
	resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	if resp == nil {
		a.count(ReasonBadRequest, "", "", errors.New("no user nkey"))
		return nil, errors.New("brokerauth: the request names no user key")
	}
	resp.Audience = req.Server.ID
	user, userJWT, err := a.authorize(req)
	a.count(ReasonOf(err), user, req.ClientInformation.MQTT, err)
	if err != nil {
		// The node logs this and closes the connection; the client gets CONNACK 5.
		resp.Error = err.Error()
	} else {
		resp.Jwt = userJWT
	}
	token, err := resp.Encode(a.o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("brokerauth: sign the response: %w", err)
	}
	return []byte(token), nil
}

func (a *Authorizer) authorize(req *jwt.AuthorizationRequestClaims) (string, string, error) {
	ci := req.ClientInformation
	if ci.Type != "mqtt" {
		return "", "", refuse(ReasonNotMQTT, "a %q client", ci.Type)
	}
	user, err := a.identify(req)
	if err != nil {
		return user, "", err
	}
	grant, err := a.o.Policy.Decide(user, ci.MQTT)
	if err != nil {
		return user, "", err
	}
	if a.o.Registered != nil && !a.o.Policy.IsService(user) && !a.o.Registered.Has(user) {
		return user, "", refuse(ReasonNotRegistered, "%s is not in the registered ids", user)
	}
	uc := jwt.NewUserClaims(req.UserNkey)
	uc.Name = grant.User
	uc.Audience = a.o.Account
	// The grant is for this MQTT connection only: a gateway's certificate opens no NATS
	// protocol session.
	uc.AllowedConnectionTypes = jwt.StringList{jwt.ConnectionTypeMqtt}
	uc.Pub = permission(grant.Publish)
	uc.Sub = permission(grant.Subscribe)
	token, err := uc.Encode(a.o.Issuer)
	if err != nil {
		return user, "", fmt.Errorf("brokerauth: sign the user: %w", err)
	}
	return user, token, nil
}

// identify proves who the client is: the common name of a certificate the node verified
// against its CA, else a user name and password from the password file.
func (a *Authorizer) identify(req *jwt.AuthorizationRequestClaims) (string, error) {
	co := req.ConnectOptions
	if t := req.TLS; t != nil && len(t.VerifiedChains) > 0 && len(t.VerifiedChains[0]) > 0 {
		block, _ := pem.Decode([]byte(t.VerifiedChains[0][0]))
		if block == nil {
			return "", refuse(ReasonBadRequest, "the verified certificate is no PEM")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", refuse(ReasonBadRequest, "the verified certificate: %v", err)
		}
		cn := cert.Subject.CommonName
		if co.Username != "" && co.Username != cn {
			return cn, refuse(ReasonUserMismatch, "certificate %q, user name %q", cn, co.Username)
		}
		return cn, nil
	}
	if co.Username == "" {
		return "", refuse(ReasonNoIdentity, "no verified client certificate and no user name")
	}
	if a.o.Passwords == nil || !a.o.Passwords.Check(co.Username, co.Password) {
		return co.Username, refuse(ReasonBadPassword, "user %q", co.Username)
	}
	return co.Username, nil
}

// permission is an allow list of NATS subjects; empty denies everything.
func permission(filters []string) jwt.Permission {
	if len(filters) == 0 {
		return jwt.Permission{Deny: jwt.StringList{">"}}
	}
	var p jwt.Permission
	for _, f := range filters {
		p.Allow.Add(Subject(f))
	}
	return p
}

func (a *Authorizer) count(reason, user, clientID string, err error) {
	result := "granted"
	if err != nil {
		result = reason
	}
	a.decisions.WithLabelValues(result).Inc()
	if err == nil {
		return
	}
	a.mu.Lock()
	b := a.bursts[reason]
	if b == nil {
		b = &burst{}
		a.bursts[reason] = b
	}
	now := time.Now()
	if now.Sub(b.last) < 10*time.Second {
		b.dropped++
		a.mu.Unlock()
		return
	}
	dropped := b.dropped
	b.last, b.dropped = now, 0
	a.mu.Unlock()
	a.o.Logger.Warn("connection refused", "reason", reason, "user", user, "client_id", clientID, "err", err, "more_since_last", dropped)
}
