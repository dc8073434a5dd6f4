package api_test

import (
	"path/filepath"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/deploy/localstack"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

// TestLaneOverTLS: the lane reaches a broker that speaks TLS and wants a client certificate.
func TestLaneOverTLS(t *testing.T) {
	dir := t.TempDir()
	pki := stacktest.NewPKI(t, "vagt test CA")
	server, client := pki.Issue("127.0.0.1"), pki.Issue("svc_api")
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true, TLS: &localstack.MosquittoTLS{
		CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile, RequireCertificate: true}})
	s, err := api.New(t.Context(), api.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "vagt.db"), Broker: broker.TLSURL(),
		ClientID: "vagt-api-tls", TLSCA: pki.CAFile, TLSCert: client.CertFile, TLSKey: client.KeyFile}, api.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	st := runServer(t, s)
	gw := newGateway(t, broker.URL())
	gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: t0, Device: "btn", Type: vagt.AlarmPanic})
	waitFor(t, "the alarm over TLS to become an alert", func() bool {
		list, err := st.Store.ListAlerts(t.Context(), alerts.Scope{All: true}, alerts.Filter{})
		return err == nil && len(list) == 1
	})
}
