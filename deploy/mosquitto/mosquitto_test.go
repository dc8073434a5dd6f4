// Package mosquittoconf_test starts a real Mosquitto with the production configuration in
// this directory (mosquitto.conf and acl) and checks what it promises: gateways publish only
// under their own id, the services consume through shared subscriptions, nobody gets in
// anonymously, queued messages survive a restart, gateways can log in with a client
// certificate and cannot take over another client's session.
//
// The configuration is used as it is written, with these substitutions only (see
// productionConfig): each listener's port becomes a free loopback port; the paths under
// /etc/mosquitto/vagt/ and /var/lib/mosquitto/ move into the test's temporary directory;
// log_timestamp_format goes, because test/localstack sets it and Mosquitto refuses it
// twice, and so does log_dest stderr, because localstack logs to a file that also gets the
// broker's stderr (every line would be there twice). Files of compose.d, where a test
// wants them, are copied into conf.d with the same port substitution. localstack adds a
// plain listener of its own in front, which it uses to see that the broker is up; the
// tests connect only to the configured listeners.
package mosquittoconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// waitFor bounds every wait for the broker; a test that reaches it fails, it is never
// how a test decides that something did not happen (markers do that, see noneBefore).
const waitFor = 10 * time.Second

// The users of the password file. Gateways are named by their id; service users carry
// an underscore, which no gateway id can.
var users = map[string]string{
	"gw-a":        "secret-a",
	"gw-b":        "secret-b",
	"gw-c":        "secret-c",
	"svc_ingest":  "secret-ingest",
	"svc_api":     "secret-api",
	"ops_monitor": "secret-ops",
}

// broker is Mosquitto running the production configuration.
type broker struct {
	*localstack.Mosquitto
	services string         // tcp:// URL of the loopback services listener (1883 in production)
	certs    string         // ssl:// URL of the client-certificate listener (8883)
	password string         // ssl:// URL of the password listener (8884)
	siteURLs map[int]string // tcp:// URLs of the conf.d listeners, by their configured port
	pki      pki
}

// startBroker starts Mosquitto with the production configuration; siteConfs are files
// copied into its conf.d (their listener ports made free ports too, see siteURLs).
func startBroker(t *testing.T, siteConfs ...string) *broker {
	t.Helper()
	etc := t.TempDir()
	data := t.TempDir()
	p := newPKI(t, etc)
	var passwd strings.Builder
	for u, pw := range users {
		hash, err := localstack.HashMosquittoPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&passwd, "%s:%s\n", u, hash)
	}
	writeFile(t, filepath.Join(etc, "passwd"), passwd.String())
	acl, err := os.ReadFile("acl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(etc, "acl"), string(acl))
	if err := os.Mkdir(filepath.Join(etc, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	site := map[int]string{}
	for _, f := range siteConfs {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		conf := listenerLine.ReplaceAllStringFunc(string(raw), func(line string) string {
			prod, _ := strconv.Atoi(listenerLine.FindStringSubmatch(line)[1])
			free, err := localstack.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			site[prod] = "tcp://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(free))
			return fmt.Sprintf("listener %d 127.0.0.1", free)
		})
		writeFile(t, filepath.Join(etc, "conf.d", filepath.Base(f)), conf)
	}

	conf, ports := productionConfig(t, etc, data)
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{Extra: conf})
	return &broker{Mosquitto: m, pki: p, siteURLs: site,
		services: "tcp://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1883])),
		certs:    "ssl://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[8883])),
		password: "ssl://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[8884])),
	}
}

var listenerLine = regexp.MustCompile(`(?m)^listener (\d+)( \S+)?$`)

// productionConfig reads mosquitto.conf and makes the substitutions the package comment
// lists. It fails when the file has a listener or path the test does not know, so a change
// to the file cannot quietly escape the test. It returns the configuration and the free
// port that stands in for each production port.
func productionConfig(t *testing.T, etc, data string) (string, map[int]int) {
	t.Helper()
	raw, err := os.ReadFile("mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	ports := map[int]int{}
	conf = listenerLine.ReplaceAllStringFunc(conf, func(line string) string {
		prod, _ := strconv.Atoi(listenerLine.FindStringSubmatch(line)[1])
		free, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[prod] = free
		return fmt.Sprintf("listener %d 127.0.0.1", free)
	})
	for _, want := range []int{1883, 8883, 8884} {
		if ports[want] == 0 {
			t.Fatalf("mosquitto.conf has no listener on %d; listeners: %v", want, ports)
		}
	}
	if len(ports) != 3 {
		t.Fatalf("mosquitto.conf has listeners %v; teach this test the new ones", ports)
	}
	conf = strings.ReplaceAll(conf, "/etc/mosquitto/vagt/", etc+"/")
	conf = strings.ReplaceAll(conf, "/etc/mosquitto/vagt\n", etc+"\n")
	conf = strings.ReplaceAll(conf, "/var/lib/mosquitto/", data+"/")
	var kept []string
	for _, line := range strings.Split(conf, "\n") {
		if strings.HasPrefix(line, "log_timestamp_format ") || line == "log_dest stderr" {
			continue
		}
		if !strings.HasPrefix(line, "#") && (strings.Contains(line, "/etc/") || strings.Contains(line, "/var/")) {
			t.Fatalf("mosquitto.conf has a path this test does not move: %q", line)
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "\n"), ports
}

// The ACL lets a gateway publish under its own id and nowhere else, and read its own
// configuration and nothing else; the services read what they consume.
func TestGatewaysPublishOnlyUnderTheirOwnID(t *testing.T) {
	b := startBroker(t)
	monitor := newSink()
	b.connect(t, b.services, "ops_monitor", "monitor", true, monitor.subscription("vagt/v1/#"))
	gwB := newSink()
	b.connect(t, b.password, "gw-b", "gw-b", true, gwB.subscription("vagt/v1/gw/+/+"))
	// gw-c subscribes to `#` (issue 20's spy): it may read only its own lanes, and nothing
	// of this test is for it.
	spy := newSink()
	b.connect(t, b.password, "gw-c", "gw-c", true, spy.subscription("#"))
	a := b.connect(t, b.password, "gw-a", "gw-a", true, nil)
	api := b.connect(t, b.services, "svc_api", "vagt-api-1", true, nil)

	publish(t, a, "vagt/v1/gw/gw-a/telemetry", false, "a's own reading")
	monitor.expect(t, "vagt/v1/gw/gw-a/telemetry", "a's own reading")

	// Denied publishes are acknowledged and dropped: each is followed by an allowed
	// marker from the same client, and the subscriber must see the marker first.
	for _, topic := range []string{
		"vagt/v1/gw/gw-b/telemetry", "vagt/v1/gw/gw-b/alarm", "vagt/v1/gw/gw-b/status",
		"vagt/v1/gw/gw-a/config", "vagt/v1/gw/gw-b/config", "vagt/v1/other",
	} {
		publish(t, a, topic, false, "forged by a")
		publish(t, a, "vagt/v1/gw/gw-a/alarm", false, "marker after "+topic)
		monitor.noneBefore(t, "vagt/v1/gw/gw-a/alarm", "marker after "+topic)
	}
	// gw-b subscribed to every gateway's lanes, but may read only its own configuration:
	// nothing of a's reached it, and the api's configuration for b is its marker.
	publish(t, api, "vagt/v1/gw/gw-a/config", true, "config of a")
	publish(t, api, "vagt/v1/gw/gw-b/config", true, "config of b")
	gwB.noneBefore(t, "vagt/v1/gw/gw-b/config", "config of b")
	monitor.expect(t, "vagt/v1/gw/gw-a/config", "config of a")
	monitor.expect(t, "vagt/v1/gw/gw-b/config", "config of b")

	// Service and operator users cannot forge a gateway's lanes either.
	for user, id := range map[string]string{"svc_ingest": "vagt-ingest-1", "ops_monitor": "monitor-2"} {
		c := b.connect(t, b.services, user, id, true, nil)
		publish(t, c, "vagt/v1/gw/gw-a/alarm", false, "forged by "+user)
		publish(t, a, "vagt/v1/gw/gw-a/alarm", false, "marker after "+user)
		monitor.noneBefore(t, "vagt/v1/gw/gw-a/alarm", "marker after "+user)
	}
	// ingest may copy rejected messages under its dead-letter prefix.
	ingest := b.connect(t, b.services, "svc_ingest", "vagt-ingest-2", true, nil)
	publish(t, ingest, "vagt/v1/dead/undecodable/vagt/v1/gw/gw-a/telemetry", false, "rejected")
	monitor.expect(t, "vagt/v1/dead/undecodable/vagt/v1/gw/gw-a/telemetry", "rejected")

	// The retained status and its will are a gateway's own.
	publish(t, a, "vagt/v1/gw/gw-a/status", true, "online")
	monitor.expect(t, "vagt/v1/gw/gw-a/status", "online")
	select {
	case m := <-spy.ch:
		t.Errorf("gw-c's subscription to # delivered %s %q", m.topic, m.payload)
	case <-time.After(time.Second): // the monitor has seen everything; room for a late copy
	}
}

// A gateway reads its own downlink and no other gateway's, and cannot write one; only the
// api writes downlinks (docs/wire.md, "downlink").
func TestGatewayReadsOnlyItsOwnDownlink(t *testing.T) {
	b := startBroker(t)
	monitor := newSink()
	b.connect(t, b.services, "ops_monitor", "monitor", true, monitor.subscription("vagt/v1/gw/+/downlink"))
	gwA, gwB := newSink(), newSink()
	a := b.connect(t, b.password, "gw-a", "gw-a", true, gwA.subscription("vagt/v1/gw/+/downlink"))
	b.connect(t, b.password, "gw-b", "gw-b", true, gwB.subscription("vagt/v1/gw/+/downlink", "vagt/v1/gw/gw-a/downlink"))
	api := b.connect(t, b.services, "svc_api", "vagt-api-1", true, nil)

	publish(t, api, "vagt/v1/gw/gw-a/downlink", false, "received for a")
	publish(t, api, "vagt/v1/gw/gw-b/downlink", false, "received for b")
	gwA.expect(t, "vagt/v1/gw/gw-a/downlink", "received for a")
	// b subscribed to a's downlink too: a's message never reached it, b's own is next.
	gwB.noneBefore(t, "vagt/v1/gw/gw-b/downlink", "received for b")
	monitor.expect(t, "vagt/v1/gw/gw-a/downlink", "received for a")
	monitor.expect(t, "vagt/v1/gw/gw-b/downlink", "received for b")

	// Nobody but the api writes a downlink: not the gateway itself, not another service.
	ingest := b.connect(t, b.services, "svc_ingest", "vagt-ingest-1", true, nil)
	for _, forger := range []struct {
		name string
		c    mqtt.Client
	}{{"gw-a", a}, {"svc_ingest", ingest}} {
		publish(t, forger.c, "vagt/v1/gw/gw-a/downlink", false, "forged by "+forger.name)
		publish(t, api, "vagt/v1/gw/gw-a/downlink", false, "marker after "+forger.name)
		gwA.noneBefore(t, "vagt/v1/gw/gw-a/downlink", "marker after "+forger.name)
		monitor.noneBefore(t, "vagt/v1/gw/gw-a/downlink", "marker after "+forger.name)
	}
	if len(gwB.ch) != 0 {
		t.Fatalf("gw-b got %d more messages", len(gwB.ch))
	}
}

// ingest and api replicas split the lanes with $share subscriptions; each group sees each
// message once, both groups see an alarm; an api replica without a group (vagt api
// --group -) sees every alarm.
func TestServicesConsumeThroughSharedSubscriptions(t *testing.T) {
	b := startBroker(t)
	var ingest, api [2]*sink
	for i := range 2 {
		ingest[i], api[i] = newSink(), newSink()
		b.connect(t, b.services, "svc_ingest", fmt.Sprintf("vagt-ingest-%d", i), false,
			ingest[i].subscription("$share/vagt-ingest/vagt/v1/gw/+/telemetry", "$share/vagt-ingest/vagt/v1/gw/+/alarm"))
		b.connect(t, b.services, "svc_api", fmt.Sprintf("vagt-api-%d", i), false,
			api[i].subscription("$share/vagt-alerts/vagt/v1/gw/+/alarm", "$share/vagt-alerts/vagt/v1/gw/+/status"))
	}
	everyAlarm := newSink()
	b.connect(t, b.services, "svc_api", "vagt-api-ungrouped", false,
		everyAlarm.subscription("vagt/v1/gw/+/alarm", "vagt/v1/gw/+/status"))
	a := b.connect(t, b.password, "gw-a", "gw-a", true, nil)
	const n = 20
	for i := range n {
		publish(t, a, "vagt/v1/gw/gw-a/telemetry", false, fmt.Sprint("reading ", i))
		publish(t, a, "vagt/v1/gw/gw-a/alarm", false, fmt.Sprint("alarm ", i))
	}
	collectOnce(t, "vagt-ingest", ingest, "vagt/v1/gw/gw-a/telemetry", n)
	collectOnce(t, "vagt-alerts", api, "vagt/v1/gw/gw-a/alarm", n)
	// vagt api --group -: a replica subscribed without a group gets every alarm.
	for i := range n {
		everyAlarm.expect(t, "vagt/v1/gw/gw-a/alarm", fmt.Sprint("alarm ", i))
	}
	// A gateway cannot join a group and read the others' lanes.
	thief := newSink()
	b.connect(t, b.password, "gw-b", "gw-b", true,
		thief.subscription("$share/vagt-ingest/vagt/v1/gw/+/telemetry", "vagt/v1/gw/gw-b/config"))
	api0 := b.connect(t, b.services, "svc_api", "vagt-api-x", true, nil)
	publish(t, a, "vagt/v1/gw/gw-a/telemetry", false, "not for b")
	publish(t, api0, "vagt/v1/gw/gw-b/config", false, "marker")
	thief.noneBefore(t, "vagt/v1/gw/gw-b/config", "marker")
}

// What README.md ("Removing a replica") and the scaling guide build on: Mosquitto keeps
// handing an offline member of a shared group its share, which waits in its session until
// it comes back. If a Mosquitto release changes that, this fails and the docs need a look.
func TestOfflineSharedMemberKeepsItsShare(t *testing.T) {
	b := startBroker(t)
	const filter = "$share/vagt-ingest/vagt/v1/gw/+/telemetry"
	away := b.connect(t, b.services, "svc_ingest", "vagt-ingest-away", false, newSink().subscription(filter))
	online := newSink()
	b.connect(t, b.services, "svc_ingest", "vagt-ingest-online", false, online.subscription(filter))
	away.Disconnect(250)

	a := b.connect(t, b.password, "gw-a", "gw-a", true, nil)
	const n = 10
	for i := range n {
		publish(t, a, "vagt/v1/gw/gw-a/telemetry", false, fmt.Sprint(i))
	}
	back := newSink()
	b.connect(t, b.services, "svc_ingest", "vagt-ingest-away", false, back.arrivals())
	var got [2]int
	for got[0]+got[1] < n {
		select {
		case <-online.ch:
			got[0]++
		case <-back.ch:
			got[1]++
		case <-time.After(waitFor):
			t.Fatalf("got %d of %d (online, returned: %v)", got[0]+got[1], n, got)
		}
	}
	if got[1] == 0 {
		t.Errorf("the offline member's session got nothing (%v): Mosquitto no longer queues to offline members; update deploy/mosquitto/README.md and docs/scaling.md", got)
	}
}

// deploy/compose.yaml adds compose.d/services.conf through the include_dir at the end of
// mosquitto.conf: the services listener on the compose network works and shares the users
// and the ACL.
func TestComposeServicesListener(t *testing.T) {
	b := startBroker(t, "compose.d/services.conf")
	url := b.siteURLs[1884]
	if url == "" {
		t.Fatalf("compose.d/services.conf opens no listener 1884 (got %v); deploy/compose.yaml uses it", b.siteURLs)
	}
	tok := mqtt.NewClient(options(url, "", "", "anonymous", true)).Connect()
	if !tok.WaitTimeout(waitFor) || tok.Error() == nil {
		t.Fatal("anonymous client got in on the compose listener")
	}
	alarms := newSink()
	b.connect(t, url, "svc_api", "vagt-api-1", false,
		alarms.subscription("$share/vagt-alerts/vagt/v1/gw/+/alarm"))
	a := b.connect(t, b.password, "gw-a", "gw-a", true, nil)
	publish(t, a, "vagt/v1/gw/gw-a/alarm", false, "fall")
	alarms.expect(t, "vagt/v1/gw/gw-a/alarm", "fall")
}

// Nobody gets in without valid credentials, on any listener.
func TestAnonymousAndWrongPasswordsAreRefused(t *testing.T) {
	b := startBroker(t)
	cases := []struct {
		name, url, user, password string
		cert                      *tls.Certificate
	}{
		{"anonymous, services listener", b.services, "", "", nil},
		{"anonymous, password listener", b.password, "", "", nil},
		{"wrong password, services listener", b.services, "svc_api", "guess", nil},
		{"wrong password, password listener", b.password, "gw-a", "secret-b", nil},
		{"unknown user", b.password, "gw-z", "secret-a", nil},
		{"certificate listener without a certificate", b.certs, "gw-a", "secret-a", nil},
		{"certificate from another CA", b.certs, "", "", &b.pki.rogue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := options(c.url, c.user, c.password, "refused", true).SetTLSConfig(b.pki.clientTLS(c.cert))
			tok := mqtt.NewClient(opts).Connect()
			if !tok.WaitTimeout(waitFor) {
				t.Fatal("no answer to CONNECT")
			}
			if tok.Error() == nil {
				t.Fatal("connected")
			}
		})
	}
	// And the right ones do get in (so the refusals above are about the credentials).
	b.connect(t, b.password, "gw-a", "gw-a", true, nil)
	b.connect(t, b.services, "svc_ingest", "vagt-ingest-0", true, nil)
}

// On the gateways' listeners the client id is the user name, so a gateway that connects
// with a service's client id gets a session of its own instead of taking over (and
// emptying) the service's.
func TestGatewayCannotTakeOverAServiceSession(t *testing.T) {
	b := startBroker(t)
	api := b.connect(t, b.services, "svc_api", "vagt-api-0", false, nil)
	b.connect(t, b.password, "gw-a", "vagt-api-0", false, nil)
	opts := options(b.certs, "", "", "vagt-api-0", false).SetTLSConfig(b.pki.clientTLS(&b.pki.gwA))
	byCert := mqtt.NewClient(opts)
	wait(t, byCert.Connect())
	t.Cleanup(func() { byCert.Disconnect(100) })
	// Mosquitto closes a taken-over connection before it answers the new CONNECT, so a
	// takeover would make this publish fail.
	publish(t, api, "vagt/v1/gw/gw-a/config", false, "still here")
	if !api.IsConnectionOpen() {
		t.Fatal("the api's connection was taken over")
	}
}

// A QoS 1 message queued for a disconnected consumer's persistent session is still there
// after the broker restarts, and so is a retained configuration.
func TestPersistenceKeepsQueuedMessagesAcrossARestart(t *testing.T) {
	b := startBroker(t)
	first := newSink()
	c := b.connect(t, b.services, "svc_ingest", "vagt-ingest-0", false,
		first.subscription("$share/vagt-ingest/vagt/v1/gw/+/telemetry"))
	c.Disconnect(250)

	a := b.connect(t, b.password, "gw-a", "gw-a", true, nil)
	publish(t, a, "vagt/v1/gw/gw-a/telemetry", false, "queued while ingest was away")
	api := b.connect(t, b.services, "svc_api", "vagt-api-0", true, nil)
	publish(t, api, "vagt/v1/gw/gw-a/config", true, "retained config")
	a.Disconnect(250)
	api.Disconnect(250)

	if err := b.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	again := newSink()
	b.connect(t, b.services, "svc_ingest", "vagt-ingest-0", false, again.arrivals())
	again.expect(t, "vagt/v1/gw/gw-a/telemetry", "queued while ingest was away")
	cfg := newSink()
	b.connect(t, b.password, "gw-a", "gw-a", true, cfg.subscription("vagt/v1/gw/gw-a/config"))
	cfg.expect(t, "vagt/v1/gw/gw-a/config", "retained config")
}

// On :8883 a gateway logs in with a client certificate signed by the platform CA; its CN
// is its user name, so the ACL holds it to its own id.
func TestClientCertificateLogin(t *testing.T) {
	b := startBroker(t)
	monitor := newSink()
	b.connect(t, b.services, "ops_monitor", "monitor", true, monitor.subscription("vagt/v1/#"))
	opts := options(b.certs, "", "", "anything", true).SetTLSConfig(b.pki.clientTLS(&b.pki.gwA))
	a := mqtt.NewClient(opts)
	wait(t, a.Connect())
	t.Cleanup(func() { a.Disconnect(100) })
	publish(t, a, "vagt/v1/gw/gw-b/alarm", false, "forged over TLS")
	publish(t, a, "vagt/v1/gw/gw-a/alarm", false, "signed by gw-a")
	monitor.noneBefore(t, "vagt/v1/gw/gw-a/alarm", "signed by gw-a")
}

// collectOnce reads the replicas of a group until n distinct messages on topic arrived,
// and wants each exactly once and some at each replica. Messages on other topics (ingest
// also takes the alarms) are ignored.
func collectOnce(t *testing.T, group string, replicas [2]*sink, topic string, n int) {
	t.Helper()
	got := map[string]int{}
	var each [2]int
	for len(got) < n {
		var m message
		var i int
		select {
		case m = <-replicas[0].ch:
		case m = <-replicas[1].ch:
			i = 1
		case <-time.After(waitFor):
			t.Fatalf("%s: got %d of %d messages on %s", group, len(got), n, topic)
		}
		if m.topic != topic {
			continue
		}
		each[i]++
		got[m.payload]++
	}
	for payload, c := range got {
		if c != 1 {
			t.Errorf("%s: %q arrived %d times", group, payload, c)
		}
	}
	if each[0] == 0 || each[1] == 0 {
		t.Errorf("%s: one replica got everything (%v): not a shared subscription", group, each)
	}
}

// --- MQTT helpers ---------------------------------------------------------------------

type message struct{ topic, payload string }

// sink collects what a client receives.
type sink struct{ ch chan message }

func newSink() *sink { return &sink{ch: make(chan message, 1000)} }

func (s *sink) handle(_ mqtt.Client, m mqtt.Message) {
	s.ch <- message{m.Topic(), string(m.Payload())}
}

// subscription returns what connect needs to subscribe s to filters at QoS 1.
func (s *sink) subscription(filters ...string) *subscription {
	return &subscription{sink: s, filters: filters}
}

// arrivals subscribes to nothing: a persistent session brings its own.
func (s *sink) arrivals() *subscription { return &subscription{sink: s} }

type subscription struct {
	sink    *sink
	filters []string
}

// expect waits for one message and wants it to be topic/payload.
func (s *sink) expect(t *testing.T, topic, payload string) {
	t.Helper()
	select {
	case m := <-s.ch:
		if m.topic != topic || m.payload != payload {
			t.Fatalf("got %s %q, want %s %q", m.topic, m.payload, topic, payload)
		}
	case <-time.After(waitFor):
		t.Fatalf("%s %q did not arrive", topic, payload)
	}
}

// noneBefore wants the next message to be the marker topic/payload: whatever the
// publisher sent before the marker and the subscriber may not have would have been
// delivered before it (Mosquitto delivers in order).
func (s *sink) noneBefore(t *testing.T, topic, payload string) {
	t.Helper()
	s.expect(t, topic, payload)
}

func options(url, user, password, clientID string, clean bool) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(waitFor).
		SetOrderMatters(true)
	if user != "" {
		o.SetUsername(user).SetPassword(password)
	}
	return o
}

// connect logs user in with its password from users (TLS with the test CA on ssl://) and
// subscribes sub, if any; the client is disconnected when t ends.
func (b *broker) connect(t *testing.T, url, user, clientID string, clean bool, sub *subscription) mqtt.Client {
	t.Helper()
	o := options(url, user, users[user], clientID, clean).SetTLSConfig(b.pki.clientTLS(nil))
	if sub != nil {
		o.SetDefaultPublishHandler(sub.sink.handle)
	}
	c := mqtt.NewClient(o)
	wait(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(100) })
	if sub != nil && len(sub.filters) > 0 {
		filters := map[string]byte{}
		for _, f := range sub.filters {
			filters[f] = 1
		}
		wait(t, c.SubscribeMultiple(filters, sub.sink.handle))
	}
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, retain bool, payload string) {
	t.Helper()
	wait(t, c.Publish(topic, 1, retain, payload))
}

func wait(t *testing.T, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitFor) {
		t.Fatal("no answer from the broker")
	}
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// --- a throwaway PKI ------------------------------------------------------------------

// pki is a CA with a server certificate for 127.0.0.1 (written as ca.crt, server.crt and
// server.key, the names mosquitto.conf uses), a client certificate for gw-a, and a client
// certificate for gw-a from a CA the broker does not trust.
type pki struct {
	pool       *x509.CertPool
	gwA, rogue tls.Certificate
}

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	ca := stacktest.NewPKI(t, "vagt test CA")
	server := ca.Issue("127.0.0.1")
	writeFile(t, filepath.Join(dir, "ca.crt"), string(ca.CAPEM))
	writeFile(t, filepath.Join(dir, "server.crt"), string(server.CertPEM))
	writeFile(t, filepath.Join(dir, "server.key"), string(server.KeyPEM))
	return pki{pool: ca.Pool, gwA: ca.Issue("gw-a").TLS, rogue: stacktest.NewPKI(t, "rogue CA").Issue("gw-a").TLS}
}

// clientTLS verifies the broker against the test CA and presents cert, if any.
func (p pki) clientTLS(cert *tls.Certificate) *tls.Config {
	c := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}
