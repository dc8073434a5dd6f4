package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestLaneOverTLS: the lane reaches a broker that speaks TLS and wants a client certificate.
func TestLaneOverTLS(t *testing.T) {
	dir := t.TempDir()
	pki := stacktest.NewPKI(t, "vagt test CA")
	brokerCert, client := pki.Issue("127.0.0.1"), pki.Issue("svc_api")
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true, TLS: &localstack.MosquittoTLS{
		CertFile: brokerCert.CertFile, KeyFile: brokerCert.KeyFile, CAFile: pki.CAFile, RequireCertificate: true}})
	s, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "vagt.db"), Broker: broker.TLSURL(),
		ClientID: "vagt-api-tls", TLSCA: pki.CAFile, TLSCert: client.CertFile, TLSKey: client.KeyFile}, server.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	st := runServer(t, s)
	gw := newGateway(t, broker.URL())
	gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: t0, Device: "btn", Type: vagt.AlarmPanic})
	waitFor(t, "the alarm over TLS to become an alert", func() bool {
		list, err := st.Store.ListAlerts(t.Context(), api.Scope{All: true}, alerts.Filter{})
		return err == nil && len(list) == 1
	})
}

// TestHTTPS: with --https-cert the api serves HTTPS only, to clients that trust its CA, with
// HSTS on the API's answers; a bad certificate stops the start.
func TestHTTPS(t *testing.T) {
	pki := stacktest.NewPKI(t, "vagt test CA")
	cert := pki.Issue("127.0.0.1")
	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"),
		HTTPSCert: cert.CertFile, HTTPSKey: cert.KeyFile}, server.Deps{})
	pem, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := trusting.Get("https://" + srv.Addr() + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("HTTPS /api/v1/me without a token: %d, TLS %v, HSTS %q", resp.StatusCode, resp.TLS != nil, resp.Header.Get("Strict-Transport-Security"))
	}
	if _, err := http.Get("https://" + srv.Addr() + "/healthz"); err == nil {
		t.Error("a client that does not trust the CA was answered")
	}
	if resp, err := http.Get("http://" + srv.Addr() + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("plain HTTP was answered on the HTTPS listener")
	}
	if _, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"),
		HTTPSCert: cert.CertFile, HTTPSKey: pki.CAFile}, server.Deps{}); err == nil || !strings.Contains(err.Error(), "HTTPS certificate") {
		t.Errorf("a key that is not the certificate's: %v", err)
	}
}
