package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// InfluxDBOptions configure an InfluxDB 1.8 server.
type InfluxDBOptions struct {
	// Database is created at the first start; default "vagt". Its default
	// retention policy is autogen, so the 2.x-style bucket is "<db>/autogen".
	Database string
	// DisableFlux turns Flux (POST /api/v2/query) off. Loading Flux costs
	// about 3 s of CPU at every start, which tests that only write and use
	// InfluxQL can save.
	DisableFlux bool

	// TSI1 keeps the series index on disk (index-version tsi1), as production should for
	// millions of series; the default is the in-memory index, cheaper to start in tests.
	TSI1 bool
	// DataConfig is extra lines for the [data] section (e.g. compaction timing).
	DataConfig string

	BaseDir string // parent of the temporary directory; default os.TempDir()
	// DataDir, when set, is a fixed directory for configuration, data and log that Close
	// keeps, so a later start finds the data again (the demo's ./var/influxdb).
	DataDir      string
	StartTimeout time.Duration // default 60s
	StopTimeout  time.Duration // SIGTERM to SIGKILL; default 10s
	Logger       *slog.Logger  // nil logs nothing
}

// InfluxTarget is what a client needs to write to and query one database
// through InfluxDB 1.8's 2.x compatibility API (influxdb-client-go/v2).
type InfluxTarget struct {
	URL      string // http://127.0.0.1:port
	Org      string // ignored by 1.8, but the client wants one
	Token    string // ignored with auth off; "user:password" when it is on
	Database string
	Bucket   string // "<database>/autogen"
}

// InfluxDB is a running (or stopped) InfluxDB 1.8 server with HTTP
// authentication off and Flux on.
type InfluxDB struct {
	*service
	Database string // created at the first start
	Org      string // any value; 1.8 ignores it
	Token    string // any value with auth off; clients insist on one

	opts     InfluxDBOptions
	path     string
	port     int // HTTP API
	rpcPort  int // backup/restore RPC, which otherwise takes :8088
	client   *http.Client
	prepared bool // the database exists
}

// StartInfluxDB starts influxd on free loopback ports, waits until /ping
// answers and creates the database. ctx bounds the start only; the server
// runs until Stop, Kill or Close.
func StartInfluxDB(ctx context.Context, opts InfluxDBOptions) (*InfluxDB, error) {
	path, err := FindBinary("influxd")
	if err != nil {
		return nil, err
	}
	if err := checkInfluxVersion(ctx, path); err != nil {
		return nil, err
	}
	if opts.Database == "" {
		opts.Database = "vagt"
	}
	svc, err := newService(serviceConfig{
		name: "influxd", baseDir: opts.BaseDir, dataDir: opts.DataDir, stopSignal: syscall.SIGTERM,
		stopTimeout: opts.StopTimeout, logger: opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	db := &InfluxDB{
		service:  svc,
		Database: opts.Database,
		Org:      "vagt",
		Token:    "vagt:vagt",
		opts:     opts,
		path:     path,
		client:   &http.Client{Timeout: 30 * time.Second},
	}
	db.launch = db.launchLocked
	if err := db.pickPorts(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := db.Start(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// checkInfluxVersion refuses releases before 1.8, which lack /api/v2/write
// and Flux. A `go install` build reports "vunknown" and passes.
func checkInfluxVersion(ctx context.Context, path string) error {
	out, err := exec.CommandContext(ctx, path, "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("localstack: %s version: %w: %s", path, err, out)
	}
	m := regexp.MustCompile(`v(\d+)\.(\d+)`).FindSubmatch(out)
	if m == nil {
		return nil
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	if major != 1 || minor < 8 {
		return &MissingBinaryError{Name: "influxd 1.8", Looked: []string{path + " is " + strings.TrimSpace(string(out))},
			Hint: installHints["influxd"]}
	}
	return nil
}

// URL is the HTTP API's base URL, http://127.0.0.1:port.
func (db *InfluxDB) URL() string {
	db.mu.Lock()
	defer db.mu.Unlock()
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(db.port))
}

// Bucket is the 2.x-style bucket name of Database: "<db>/autogen".
func (db *InfluxDB) Bucket() string { return db.Database + "/autogen" }

// Target describes database (which CreateDatabase made, or Database) for a
// client.
func (db *InfluxDB) Target(database string) InfluxTarget {
	return InfluxTarget{URL: db.URL(), Org: db.Org, Token: db.Token, Database: database, Bucket: database + "/autogen"}
}

// CreateDatabase creates a database (a no-op when it exists), so tests that
// share one server can each have their own.
func (db *InfluxDB) CreateDatabase(ctx context.Context, name string) error {
	_, err := db.Query(ctx, "CREATE DATABASE "+quoteInfluxIdent(name))
	return err
}

// DropDatabase deletes a database and its data.
func (db *InfluxDB) DropDatabase(ctx context.Context, name string) error {
	_, err := db.Query(ctx, "DROP DATABASE "+quoteInfluxIdent(name))
	return err
}

// Query runs an InfluxQL statement through POST /query and returns the JSON
// response body. A statement error inside the body is returned as an error.
func (db *InfluxDB) Query(ctx context.Context, q string) ([]byte, error) {
	return db.postQuery(ctx, db.URL(), q)
}

func (db *InfluxDB) postQuery(ctx context.Context, base, q string) ([]byte, error) {
	form := url.Values{"q": {q}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("localstack: influx query: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := db.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("localstack: influx query %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("localstack: influx query %q: %w", q, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("localstack: influx query %q: %s: %s", q, resp.Status, body)
	}
	// A failed statement still comes back with 200, its error in the body.
	var r struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return body, fmt.Errorf("localstack: influx query %q: decode response: %w", q, err)
	}
	if r.Error != "" {
		return body, fmt.Errorf("localstack: influx query %q: %s", q, r.Error)
	}
	for _, res := range r.Results {
		if res.Error != "" {
			return body, fmt.Errorf("localstack: influx query %q: %s", q, res.Error)
		}
	}
	return body, nil
}

func quoteInfluxIdent(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

func (db *InfluxDB) pickPorts() error {
	var err error
	if db.port, err = FreePort(); err != nil {
		return err
	}
	db.rpcPort, err = FreePort()
	return err
}

func (db *InfluxDB) launchLocked(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx, db.opts.StartTimeout)
	defer cancel()
	repick := db.pickPorts
	if db.proc.run != nil {
		repick = nil // a restart keeps its port: clients reconnect to it
	}
	return db.startRetrying(ctx, repick, func(ctx context.Context) error {
		conf := filepath.Join(db.dir, "influxdb.conf")
		if err := os.WriteFile(conf, []byte(db.config()), 0o600); err != nil {
			return fmt.Errorf("localstack: write influxdb config: %w", err)
		}
		if err := db.proc.start(db.path, "run", "-config", conf); err != nil {
			return err
		}
		base := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(db.port))
		if err := db.proc.waitReady(ctx, func(ctx context.Context) error { return db.ping(ctx, base) }); err != nil {
			return err
		}
		if db.prepared {
			return nil
		}
		if _, err := db.postQuery(ctx, base, "CREATE DATABASE "+quoteInfluxIdent(db.Database)); err != nil {
			return err
		}
		db.prepared = true
		return nil
	})
}

// ping expects 204 from /ping, which 1.8 answers once the HTTP service is up.
func (db *InfluxDB) ping(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ping", nil)
	if err != nil {
		return err
	}
	resp, err := db.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("ping: %s", resp.Status)
	}
	return nil
}

// config keeps the server small and quiet: the in-memory index, no
// self-monitoring database, no continuous queries, warnings only. The WAL
// keeps its default (fsync on every write).
func (db *InfluxDB) config() string {
	q := strconv.Quote
	dir := func(name string) string { return q(filepath.Join(db.dir, name)) }
	index := "inmem"
	if db.opts.TSI1 {
		index = "tsi1"
	}
	return fmt.Sprintf(`# written by vagt test/localstack
reporting-disabled = true
bind-address = %s

[meta]
  dir = %s

[data]
  dir = %s
  wal-dir = %s
  wal-fsync-delay = "0s"
  index-version = %s
  query-log-enabled = false
%s

[http]
  bind-address = %s
  auth-enabled = false
  log-enabled = false
  flux-enabled = %t

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
`, q(net.JoinHostPort("127.0.0.1", strconv.Itoa(db.rpcPort))), dir("meta"), dir("data"), dir("wal"), q(index), db.opts.DataConfig,
		q(net.JoinHostPort("127.0.0.1", strconv.Itoa(db.port))), !db.opts.DisableFlux)
}
