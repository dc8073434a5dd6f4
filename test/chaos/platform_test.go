package chaos

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// platform is the municipality's side: the broker (Mosquitto, or the NATS cluster: see
// brokerKind), InfluxDB and PostgreSQL (localstack),
// and the vagt binary's ingest and api as processes, each on a fixed port and client id so
// that a restart after kill -9 takes up where the killed one was.
type platform struct {
	broker   chaosBroker
	influx   *localstack.InfluxDB
	postgres *localstack.Postgres
	ingest   *chain.Process
	api      *chain.Process
	apiAddr  string
	token    string // a municipality-wide care staff member's token
	dir      string // the processes' logs
}

const municipality = 766

// The platform's MQTT client ids: in svc_ingest's and svc_api's own client ids, as vagt
// broker-auth requires on the cluster (a restart takes up the same session).
const (
	ingestClientID = "vagt-ingest-chaos"
	apiClientID    = "vagt-api-chaos"
)

// apiGroup is the api's subscription: not shared, because Mosquitto 2.0.11 does not keep
// shared subscriptions ($share/...) across a restart, even a clean one, so what gateways
// publish between the broker's start and the api's resubscription goes to nobody
// (docs/resilience.md). VAGT_CHAOS_API_GROUP=vagt-alerts measures that.
var apiGroup = cmp.Or(os.Getenv("VAGT_CHAOS_API_GROUP"), "-")

// Mosquitto's autosave: chaosAutosave writes the persistence file on every change, since
// the chaos run kills the broker with -9 (without it Mosquitto writes the file only on a
// clean stop, and a kill -9 loses every session and queued message); productionAutosave is
// deploy/mosquitto/mosquitto.conf's, for the soak, which kills nothing: saving the whole
// in-memory state on every change of a national load stalls the broker, which is not what
// production runs.
const (
	chaosAutosave      = "autosave_interval 1\nautosave_on_changes true"
	productionAutosave = "autosave_interval 60\nautosave_on_changes false"
)

func startPlatform(t *testing.T, bins chain.Binaries, autosave string) *platform {
	t.Helper()
	dir := t.TempDir()
	p := &platform{dir: dir}
	p.broker = startBroker(t, bins, autosave)
	p.influx = stacktest.InfluxDB(t, localstack.InfluxDBOptions{DisableFlux: true})
	// A server of its own, because the suite kills it; a commit waits for its WAL, as a
	// production server's does, so a kill -9 of PostgreSQL loses nothing committed.
	p.postgres = stacktest.Postgres(t, localstack.PostgresOptions{SynchronousCommit: true})

	ports := make([]int, 2)
	for i := range ports {
		var err error
		if ports[i], err = localstack.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	p.apiAddr = "127.0.0.1:" + strconv.Itoa(ports[1])
	p.ingest = &chain.Process{Name: "ingest", Bin: bins.Vagt, Log: filepath.Join(dir, "ingest.log"), Args: []string{"ingest",
		"--broker", p.broker.URL(), "--client-id", ingestClientID,
		"--influx-url", p.influx.URL(), "--influx-bucket", p.influx.Bucket(), "--influx-token", p.influx.Token,
		"--http", "127.0.0.1:" + strconv.Itoa(ports[0]), "--linger", "50ms", "--drain-timeout", "5s", "--log-level", "warn"}}
	p.api = &chain.Process{Name: "api", Bin: bins.Vagt, Log: filepath.Join(dir, "api.log"), Args: []string{"api",
		"--listen", p.apiAddr, "--db", p.postgres.DSN(), "--broker", p.broker.URL(), "--client-id", apiClientID,
		"--group", apiGroup, "--tick", "100ms", "--log-level", "warn"}}
	// On the cluster each logs in with its service's certificate, as in production.
	for proc, user := range map[*chain.Process]string{p.ingest: "svc_ingest", p.api: "svc_api"} {
		if l := p.broker.login(t, user); l != nil {
			proc.Args = append(proc.Args, "--tls-ca", l.caFile, "--tls-cert", l.certFile, "--tls-key", l.keyFile)
		}
	}
	if err := p.ingest.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.api.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := errors.Join(p.api.Stop(), p.ingest.Stop()); err != nil {
			t.Errorf("stopping the platform: %v", err)
		}
		p.api.CheckRaces(t)
		p.ingest.CheckRaces(t)
		if t.Failed() {
			for _, name := range []string{"ingest.log", "api.log"} {
				t.Logf("%s:\n%s", name, chain.Tail(filepath.Join(dir, name), 40))
			}
		}
	})
	waitUntil(t, "the api to answer", func() bool { return ready("http://" + p.apiAddr + "/readyz") }, nil)
	waitUntil(t, "ingest to answer", func() bool { return ready("http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/readyz") }, nil)
	// The token, as an operator makes one (the schema exists now: the api migrated it).
	out, err := exec.Command(bins.Vagt, "token", "create", "--db", p.postgres.DSN(), "--name", "chaos",
		"--role", "staff", "--municipality", strconv.Itoa(municipality)).Output()
	if err != nil {
		t.Fatalf("vagt token create: %v", err)
	}
	p.token = strings.TrimSpace(string(out))
	return p
}

// db opens the api's PostgreSQL database, for the reconciliation.
func (p *platform) db(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", p.postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// count returns the points of a measurement of one gateway in InfluxDB.
func (p *platform) count(ctx context.Context, measurement, gw string) (int, error) {
	return p.countWhere(ctx, measurement, fmt.Sprintf("gw = '%s'", gw))
}

// countAll returns the points of a measurement of every gateway whose id starts with prefix.
func (p *platform) countAll(ctx context.Context, measurement, prefix string) (int, error) {
	return p.countWhere(ctx, measurement, fmt.Sprintf("gw =~ /^%s/", prefix))
}

func (p *platform) countWhere(ctx context.Context, measurement, where string) (int, error) {
	gw := where
	out, err := p.influx.Query(ctx, fmt.Sprintf(`SELECT count(*) FROM "%s"."autogen"."%s" WHERE %s`,
		p.influx.Database, measurement, where))
	if err != nil {
		return 0, err
	}
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return 0, fmt.Errorf("count %s: %w", gw, err)
	}
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 {
		return 0, nil
	}
	row := r.Results[0].Series[0].Values[0]
	if len(row) < 2 {
		return 0, nil
	}
	n, ok := row[1].(json.Number)
	if !ok {
		return 0, fmt.Errorf("count %s: %v", gw, row[1])
	}
	v, err := n.Int64()
	return int(v), err
}

func ready(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// temperatures returns how many points of each device and value the gateway's temperature
// readings have in InfluxDB.
func (p *platform) temperatures(ctx context.Context, gw vagt.GatewayID) (map[sentKey]int, error) {
	out, err := p.influx.Query(ctx, fmt.Sprintf(`SELECT value, dev FROM "%s"."autogen"."reading" WHERE gw = '%s' AND kind = 'temperature'`,
		p.influx.Database, gw))
	if err != nil {
		return nil, err
	}
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, err
	}
	got := map[sentKey]int{}
	for _, res := range r.Results {
		for _, s := range res.Series {
			for _, row := range s.Values {
				v, _ := row[1].(float64)
				dev, _ := row[2].(string)
				got[keyOf(vagt.DeviceID(dev), v)]++
			}
		}
	}
	return got, nil
}

// sentKey identifies a reading: its device and its value in hundredths (the wire's
// resolution for a temperature).
type sentKey struct {
	dev   vagt.DeviceID
	value int64
}

func keyOf(dev vagt.DeviceID, v float64) sentKey { return sentKey{dev, int64(math.Round(v * 100))} }
