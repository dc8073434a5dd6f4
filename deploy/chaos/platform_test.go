package chaos

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/deploy/localstack"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
	"github.com/vagt-dk/vagt/ingest"
)

// runner runs a component in-process until Stop, and again after Start: ingest, the api
// and the gateways. Stop cancels its context, which is a crash only for what the
// component had not handed on — the in-process stand-in for kill -9 (see docs/resilience.md).
type runner struct {
	name string
	run  func(ctx context.Context) error

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

func (r *runner) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.run(ctx) }()
}

func (r *runner) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	err := <-r.done
	r.cancel = nil
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	return nil
}

// platform is the municipality's side: broker, InfluxDB, ingest, the api on SQLite.
type platform struct {
	broker  *localstack.Mosquitto
	influx  *localstack.InfluxDB
	ingest  *runner
	api     *runner
	apiAddr string
	dbPath  string
	token   string // a municipality-wide care staff member's token
	log     *slog.Logger
	logPath string

	mu       sync.Mutex
	failures []error // a component that stopped by itself
}

const municipality = 766

// apiGroup is the api's subscription: not shared, because Mosquitto 2.0.11 does not keep
// shared subscriptions ($share/...) across a restart, even a clean one, so what gateways
// publish between the broker's start and the api's resubscription goes to nobody
// (docs/resilience.md). VAGT_CHAOS_API_GROUP=vagt-alerts measures that.
var apiGroup = cmp.Or(os.Getenv("VAGT_CHAOS_API_GROUP"), "-")

func startPlatform(t *testing.T) *platform {
	t.Helper()
	dir := t.TempDir()
	p := &platform{dbPath: dir + "/vagt.db", logPath: dir + "/platform.log"}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	// Warnings and errors of ingest and the api, for the report (what was refused, retried).
	p.log = slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// autosave on every change: without it Mosquitto writes its persistence file only on a
	// clean stop, and a kill -9 loses every session and queued message.
	p.broker = stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true,
		Extra: "autosave_interval 1\nautosave_on_changes true"})
	p.influx = stacktest.InfluxDB(t, localstack.InfluxDBOptions{DisableFlux: true})

	p.ingest = &runner{name: "ingest", run: func(ctx context.Context) error {
		return ingest.Run(ctx, ingest.Config{Broker: p.broker.URL(), ClientID: "chaos-ingest",
			InfluxURL: p.influx.URL(), InfluxBucket: p.influx.Bucket(), InfluxToken: p.influx.Token, InfluxRaw: true,
			Setup: true, HTTPAddr: "127.0.0.1:0", Linger: 50 * time.Millisecond, DrainTimeout: 5 * time.Second}, ingest.Deps{Logger: p.log.With("component", "ingest")})
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.apiAddr = ln.Addr().String()
	ln.Close()
	p.api = &runner{name: "api", run: func(ctx context.Context) error {
		srv, err := api.New(ctx, api.Config{Listen: p.apiAddr, DB: p.dbPath, Broker: p.broker.URL(), ClientID: "chaos-api", Group: apiGroup,
			Tick: 100 * time.Millisecond, FeedPoll: 200 * time.Millisecond, StreamWriteTimeout: 5 * time.Second}, api.Deps{Log: p.log.With("component", "api")})
		if err != nil {
			return err
		}
		if p.token == "" {
			tok, hash, err := auth.NewToken()
			if err != nil {
				return err
			}
			pr := auth.Principal{Name: "chaos", Role: auth.RoleStaff, Municipality: municipality}
			if _, err := srv.Store.IssueToken(ctx, pr, hash, nil, time.Now()); err != nil {
				return err
			}
			p.token = tok
		}
		return srv.Run(ctx)
	}}
	p.ingest.Start()
	p.api.Start()
	t.Cleanup(func() {
		if err := errors.Join(p.api.Stop(), p.ingest.Stop()); err != nil {
			t.Errorf("stopping the platform: %v", err)
		}
	})
	waitUntil(t, "the api to answer", func() bool { return ready("http://" + p.apiAddr + "/readyz") }, nil)
	return p
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
