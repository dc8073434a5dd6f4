package security

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/gateway/spool"
	"github.com/vagt-dk/vagt/gateway/uplink"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/ingest/influx"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// patience bounds every wait of the TLS chain; reaching it fails the test, it never
// decides that something did not happen (markers do that).
const patience = 90 * time.Second

// tlsChain is the platform with TLS and client certificates everywhere MQTT goes:
// Mosquitto with a listener that requires a certificate of the platform CA and takes its
// CN as the user name, under the production ACL (deploy/mosquitto/acl); ingest as
// svc_ingest and the api as svc_api, each with its certificate; InfluxDB; the api on
// SQLite with the gateway registered in district Nord.
type tlsChain struct {
	pki        *stacktest.PKI
	broker     *localstack.Mosquitto
	influx     localstack.InfluxTarget
	api        *server.Server
	apiBase    string
	staffToken string
	ingestReg  *prometheus.Registry
	apiReg     *prometheus.Registry
}

func startTLSChain(t *testing.T) *tlsChain {
	t.Helper()
	c := &tlsChain{pki: stacktest.NewPKI(t, "vagt platform CA"), ingestReg: prometheus.NewRegistry(), apiReg: prometheus.NewRegistry()}
	brokerCert := c.pki.Issue("127.0.0.1")
	acl, err := os.ReadFile(filepath.Join("..", "..", "deploy", "mosquitto", "acl"))
	must(t, err)
	c.broker = stacktest.Mosquitto(t, localstack.MosquittoOptions{ACL: string(acl), TLS: &localstack.MosquittoTLS{
		CertFile: brokerCert.CertFile, KeyFile: brokerCert.KeyFile, CAFile: c.pki.CAFile, RequireCertificate: true, UseIdentityAsUsername: true}})
	c.influx = stacktest.SharedInfluxDB(t)
	log := slog.New(slog.DiscardHandler)

	ing := c.pki.Issue("svc_ingest")
	ingestCfg := ingest.Config{Broker: c.broker.TLSURL(), ClientID: "vagt-ingest-tls", TLSCA: c.pki.CAFile, TLSCert: ing.CertFile, TLSKey: ing.KeyFile,
		InfluxURL: c.influx.URL, InfluxBucket: c.influx.Bucket, InfluxToken: c.influx.Token, HTTPAddr: "127.0.0.1:0",
		BatchPoints: 1000, Linger: 20 * time.Millisecond, InFlight: 200, DrainTimeout: 5 * time.Second}
	ingestUp := make(chan string, 1)
	background(t, "ingest", func(ctx context.Context) error {
		return ingest.Run(ctx, ingestCfg, ingest.Deps{Logger: log, Registry: c.ingestReg, Started: func(addr string) { ingestUp <- addr }})
	})

	apiCert := c.pki.Issue("svc_api")
	c.api, err = server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"),
		Broker: c.broker.TLSURL(), ClientID: "vagt-api-tls", Group: "-", TLSCA: c.pki.CAFile, TLSCert: apiCert.CertFile, TLSKey: apiCert.KeyFile,
		FeedPoll: 200 * time.Millisecond}, server.Deps{Logger: log, Registry: c.apiReg})
	must(t, err)
	c.apiBase = "http://" + c.api.Addr()
	s := c.api.Store
	north, err := s.CreateDistrict(t.Context(), ownMun, "Nord")
	must(t, err)
	citizen, err := s.CreateCitizen(t.Context(), ownMun, api.Citizen{Name: "Karen Jensen", Address: "Søndergade 4, 8722 Hedensted"})
	must(t, err)
	must(t, s.CreateHome(t.Context(), "home-tls-a", north, citizen))
	must(t, s.RegisterGateway(t.Context(), "gw-tls-a", "home-tls-a"))
	tok, hash, err := auth.NewToken()
	must(t, err)
	_, err = s.IssueToken(t.Context(), api.Principal{Name: "staff-nord", Role: api.RoleStaff, Municipality: ownMun, Districts: []int64{north}}, hash, nil, time.Now())
	must(t, err)
	c.staffToken = tok
	background(t, "api", c.api.Run)

	// Both consumers subscribed before anything is published: the api's session is new.
	ingestAddr := <-ingestUp
	waitUntil(t, "ingest and the api to be ready over TLS", func() bool {
		return ready("http://"+ingestAddr+"/readyz") && ready(c.apiBase+"/readyz")
	})
	return c
}

// background runs f until the test ends and wants it to end without an error.
func background(t *testing.T, name string, f func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("%s: %v", name, err)
		}
	})
}

func ready(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dial connects an MQTT client to the TLS listener with tlsCfg and returns the
// CONNECT's error.
func (c *tlsChain) dial(t *testing.T, id string, tlsCfg *tls.Config, onMessage mqtt.MessageHandler) (mqtt.Client, error) {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(c.broker.TLSURL()).SetClientID(id).SetTLSConfig(tlsCfg).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(30 * time.Second)
	if onMessage != nil {
		opts.SetDefaultPublishHandler(onMessage)
	}
	cl := mqtt.NewClient(opts)
	tok := cl.Connect()
	if !tok.WaitTimeout(patience) {
		t.Fatalf("%s: no answer to CONNECT", id)
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return cl, nil
}

func mqttPublish(t *testing.T, cl mqtt.Client, topic string, payload []byte) {
	t.Helper()
	tok := cl.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// counter returns the value of a counter in reg whose labels include labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// points returns how many points of measurement InfluxDB holds with the tag values given.
func (c *tlsChain) points(t *testing.T, measurement, where string) int {
	t.Helper()
	w, err := influx.New(influx.Config{URL: c.influx.URL, Bucket: c.influx.Bucket, Token: c.influx.Token, Timeout: 10 * time.Second})
	must(t, err)
	defer w.Close()
	body, err := w.Query1x(t.Context(), fmt.Sprintf(`SELECT count(*) FROM %s."autogen".%q WHERE %s`, influx.QuoteIdent(c.influx.Database), measurement, where))
	must(t, err)
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	must(t, json.Unmarshal(body, &r))
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 {
		return 0
	}
	n, _ := r.Results[0].Series[0].Values[0][1].(float64)
	return int(n)
}

// alerts returns the api's alert list as staff of district Nord sees it.
func (c *tlsChain) alerts(t *testing.T) []alerts.Alert {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.apiBase+"/api/v1/alerts?limit=500", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+c.staffToken)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var list struct{ Alerts []alerts.Alert }
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alert list: %s", resp.Status)
	}
	must(t, json.NewDecoder(resp.Body).Decode(&list))
	return list.Alerts
}

func hasAlert(list []alerts.Alert, gw vagt.GatewayID, dev vagt.DeviceID) bool {
	for _, a := range list {
		if (gw == "" || a.Gateway == gw) && (dev == "" || a.Device == dev) {
			return true
		}
	}
	return false
}

// stream opens the api's live alert stream as staff of Nord and returns the data lines as
// they come.
func (c *tlsChain) stream(t *testing.T) <-chan string {
	t.Helper()
	return openStream(t, c.apiBase+"/api/v1/alerts/stream", c.staffToken)
}

// openStream opens an alert stream at url with token and returns its data lines as they
// come, until the test ends.
func openStream(t *testing.T, url, token string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %s", resp.Status)
	}
	lines := make(chan string, 100)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case lines <- data:
				case <-ctx.Done():
					return
				}
			}
		}
	})
	t.Cleanup(func() { cancel(); resp.Body.Close(); wg.Wait() })
	return lines
}

// TestTLSClientCertificatesEndToEnd: a real gateway (its spool and uplink) with a
// certificate for its id reaches, through Mosquitto's certificate listener, ingest and the
// api, which log in with their own certificates: its reading lands in InfluxDB, its alarm
// in the api's alert list and live stream. With that certificate it cannot publish under
// another gateway's id (the broker's ACL keys on the CN); a payload that claims another
// gateway on its own topic is rejected by ingest and by the api. A client without a
// certificate, with one of another CA, or with an expired one does not get in.
func TestTLSClientCertificatesEndToEnd(t *testing.T) {
	c := startTLSChain(t)
	live := c.stream(t)

	// The gateway: spool and uplink, as vagt-gateway runs them.
	gwCert := c.pki.Issue("gw-tls-a")
	now := time.Now().Truncate(time.Millisecond)
	q, err := spool.Open(spool.Options{Path: filepath.Join(t.TempDir(), "spool.db"), Gateway: "gw-tls-a", Municipality: ownMun, BatchReadings: 10})
	must(t, err)
	t.Cleanup(func() { q.Close() })
	must(t, q.AddReadings([]vagt.Reading{{Device: "zb-1:temp", Kind: vagt.KindTemperature, Time: now, Value: 21.5}}))
	_, err = q.Cut(true)
	must(t, err)
	_, err = q.AddAlarm(&vagt.Alarm{Time: now, Device: "bu-1:btn", Type: vagt.AlarmPanic})
	must(t, err)
	up, err := uplink.New(uplink.Options{Broker: c.broker.TLSURL(), Gateway: "gw-tls-a", CAFile: c.pki.CAFile,
		CertFile: gwCert.CertFile, KeyFile: gwCert.KeyFile, KeepAlive: 5 * time.Second, MaxBackoff: time.Second}, q,
		func() vagt.Status { return vagt.Status{Municipality: ownMun, Software: "vagt-gateway security test"} })
	must(t, err)
	background(t, "uplink", up.Run)

	waitUntil(t, "the gateway's reading in InfluxDB", func() bool {
		return c.points(t, "reading", `"gw" = 'gw-tls-a' AND "dev" = 'zb-1:temp'`) == 1
	})
	waitUntil(t, "the gateway's alarm in the api's alert list", func() bool { return hasAlert(c.alerts(t), "gw-tls-a", "bu-1:btn") })
	for seen := false; !seen; {
		select {
		case data, ok := <-live:
			if !ok {
				t.Fatal("the live stream ended before the alarm came")
			}
			seen = strings.Contains(data, `"gateway":"gw-tls-a"`) && strings.Contains(data, `"device":"bu-1:btn"`)
		case <-time.After(patience):
			t.Fatal("the alarm never came on the live stream")
		}
	}

	// A second connection with gw-tls-a's certificate, and an operator's that reads
	// every lane (ops_monitor in the ACL) to see what the broker lets through.
	seen := make(chan mqtt.Message, 100)
	monitor, err := c.dial(t, "monitor", c.pki.ClientTLS(ptr(c.pki.Issue("ops_monitor"))), func(_ mqtt.Client, m mqtt.Message) { seen <- m })
	must(t, err)
	if tok := monitor.Subscribe("vagt/v1/gw/+/+", 1, nil); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("monitor subscribe: %v", tok.Error())
	}
	forger, err := c.dial(t, "gw-tls-a-forger", c.pki.ClientTLS(&gwCert), nil)
	must(t, err)
	alarm := func(gw vagt.GatewayID, seq uint64, dev vagt.DeviceID) []byte {
		b, err := vagt.EncodeAlarm(&vagt.Alarm{Gateway: gw, Seq: seq, Municipality: ownMun, Time: now, Device: dev,
			Type: vagt.AlarmPanic, Priority: vagt.AlarmPanic.Priority()})
		must(t, err)
		return b
	}
	batch := func(gw vagt.GatewayID, seq uint64, dev vagt.DeviceID) []byte {
		b, err := vagt.EncodeBatch(&vagt.Batch{Gateway: gw, Seq: seq, Municipality: ownMun,
			Readings: []vagt.Reading{{Device: dev, Kind: vagt.KindTemperature, Time: now, Value: 20}}})
		must(t, err)
		return b
	}

	// Under gw-tls-b's topics, with gw-tls-b's payloads: the broker drops them. Each is
	// followed by a marker on the forger's own topic, which the monitor must see first.
	for i, topic := range []string{vagt.Topic("gw-tls-b", vagt.LaneAlarm), vagt.Topic("gw-tls-b", vagt.LaneTelemetry),
		vagt.Topic("gw-tls-b", vagt.LaneStatus)} {
		payload := alarm("gw-tls-b", uint64(100+i), "bu-9:forged")
		if strings.HasSuffix(topic, "/telemetry") {
			payload = batch("gw-tls-b", uint64(100+i), "bu-9:forged")
		}
		mqttPublish(t, forger, topic, payload)
		marker := alarm("gw-tls-a", uint64(200+i), vagt.DeviceID(fmt.Sprintf("bu-9:marker-%d", i)))
		mqttPublish(t, forger, vagt.Topic("gw-tls-a", vagt.LaneAlarm), marker)
		for got := false; !got; {
			select {
			case m := <-seen:
				if strings.Contains(m.Topic(), "gw-tls-b") {
					t.Fatalf("the broker let gw-tls-a's certificate publish on %s", m.Topic())
				}
				got = string(m.Payload()) == string(marker)
			case <-time.After(patience):
				t.Fatalf("marker %d never reached the monitor", i)
			}
		}
	}

	// On its own topics, with a payload that claims gw-tls-b: the broker passes it, ingest
	// and the api reject it. A genuine message on the same topic follows each.
	mqttPublish(t, forger, vagt.Topic("gw-tls-a", vagt.LaneAlarm), alarm("gw-tls-b", 300, "bu-9:spoofed"))
	mqttPublish(t, forger, vagt.Topic("gw-tls-a", vagt.LaneAlarm), alarm("gw-tls-a", 301, "bu-9:after-spoof"))
	mqttPublish(t, forger, vagt.Topic("gw-tls-a", vagt.LaneTelemetry), batch("gw-tls-b", 300, "zb-9:spoofed"))
	mqttPublish(t, forger, vagt.Topic("gw-tls-a", vagt.LaneTelemetry), batch("gw-tls-a", 301, "zb-9:after-spoof"))
	waitUntil(t, "the genuine alarm after the spoofed one in the api", func() bool { return hasAlert(c.alerts(t), "gw-tls-a", "bu-9:after-spoof") })
	waitUntil(t, "the genuine messages after the spoofed ones in InfluxDB", func() bool {
		return c.points(t, "reading", `"dev" = 'zb-9:after-spoof'`) == 1 && c.points(t, "alarm", `"dev" = 'bu-9:after-spoof'`) == 1
	})
	list := c.alerts(t)
	for _, dev := range []vagt.DeviceID{"bu-9:spoofed", "bu-9:forged"} {
		if hasAlert(list, "", dev) {
			t.Errorf("an alert from %s", dev)
		}
	}
	if hasAlert(list, "gw-tls-b", "") {
		t.Error("an alert of gw-tls-b")
	}
	if n := c.points(t, "reading", `"gw" = 'gw-tls-b'`) + c.points(t, "alarm", `"gw" = 'gw-tls-b'`); n != 0 {
		t.Errorf("%d points of gw-tls-b in InfluxDB", n)
	}
	// Exactly the two spoofed messages (an alarm, a batch) are ingest's gateway mismatches,
	// the alarm the api's.
	if n := counter(t, c.ingestReg, "vagt_ingest_rejected_total", map[string]string{"reason": "gateway_mismatch"}); n != 2 {
		t.Errorf("ingest rejected %v messages as gateway_mismatch, want 2", n)
	}
	if n := counter(t, c.apiReg, "vagt_api_lane_rejected_total", map[string]string{"lane": "alarm", "reason": "gateway_mismatch"}); n != 1 {
		t.Errorf("the api rejected %v alarms as gateway_mismatch, want 1", n)
	}

	// Nobody gets in without a certificate of the platform CA that is valid now.
	rogue := stacktest.NewPKI(t, "rogue CA").Issue("gw-tls-a")
	expired := c.pki.IssueValid("gw-tls-a", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	notYet := c.pki.IssueValid("gw-tls-a", time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour))
	for name, cert := range map[string]*stacktest.Cert{"no certificate": nil, "a certificate of another CA": &rogue,
		"an expired certificate": &expired, "a certificate not valid yet": &notYet} {
		if _, err := c.dial(t, "refused", c.pki.ClientTLS(cert), nil); err == nil {
			t.Errorf("a client with %s connected", name)
		}
	}
	// The same client with the valid certificate does (so the refusals are the certificates').
	if _, err := c.dial(t, "accepted", c.pki.ClientTLS(&gwCert), nil); err != nil {
		t.Errorf("the valid certificate: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
