// Package influx is ingest's InfluxDB writer, on influxdata/influxdb-client-go/v2. One
// Writer serves InfluxDB 2.x (org, bucket, token) and 1.8 (its /api/v2 compatibility
// endpoints: bucket "db/rp", token "user:password", org ignored).
package influx

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// Config says where to write.
type Config struct {
	URL    string
	Org    string
	Bucket string // 2.x bucket, or "db/rp" for 1.8 ("db" alone means "db/autogen")
	Token  string
	// Raw posts our line protocol bytes through the client's HTTP service; otherwise they
	// go through WriteAPIBlocking.WriteRecord, which costs one string copy per batch.
	Raw     bool
	Timeout time.Duration // per request; default 30s
	TLS     *tls.Config
}

// Writer writes line protocol with precision ms. It is safe for concurrent use.
type Writer struct {
	cfg      Config
	client   influxdb2.Client
	blocking api.WriteAPIBlocking
	writeURL string
}

// New returns a Writer; it does not contact the server.
func New(cfg Config) (*Writer, error) {
	if cfg.URL == "" || cfg.Bucket == "" {
		return nil, errors.New("influx: URL and bucket are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	transport.TLSClientConfig = cfg.TLS
	hc := &http.Client{Timeout: cfg.Timeout, Transport: transport}
	opts := influxdb2.DefaultOptions().SetHTTPClient(hc).SetPrecision(time.Millisecond).SetLogLevel(0)
	c := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	q := url.Values{"org": {cfg.Org}, "bucket": {cfg.Bucket}, "precision": {"ms"}}
	return &Writer{
		cfg:      cfg,
		client:   c,
		blocking: c.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		writeURL: strings.TrimSuffix(cfg.URL, "/") + "/api/v2/write?" + q.Encode(),
	}, nil
}

// Close releases the client's idle connections.
func (w *Writer) Close() { w.client.Close() }

// WriteError is a write InfluxDB answered with an error status, or a transport failure
// (Status 0).
type WriteError struct {
	Status int
	Err    error
}

func (e *WriteError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("influx write: %v", e.Err)
	}
	return fmt.Sprintf("influx write: status %d: %v", e.Status, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Permanent reports whether retrying cannot help: InfluxDB refused the points themselves
// (a 4xx other than 408 Request Timeout and 429 Too Many Requests; 401/403 included,
// since an operator must fix the token, and holding on would only stall ingest).
func (e *WriteError) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// WritePoints writes newline-separated line protocol (precision ms).
func (w *Writer) WritePoints(ctx context.Context, lines []byte) error {
	var err error
	if w.cfg.Raw {
		err = w.writeRaw(ctx, lines)
	} else {
		err = w.blocking.WriteRecord(ctx, string(lines))
	}
	if err == nil {
		return nil
	}
	var he *http2.Error
	if errors.As(err, &he) {
		if he.StatusCode == 0 {
			return &WriteError{Err: he.Err}
		}
		return &WriteError{Status: he.StatusCode, Err: he}
	}
	return &WriteError{Err: err}
}

func (w *Writer) writeRaw(ctx context.Context, lines []byte) error {
	herr := w.client.HTTPService().DoPostRequest(ctx, w.writeURL, bytes.NewReader(lines), chunked, func(r *http.Response) error {
		_, _ = io.Copy(io.Discard, r.Body)
		return r.Body.Close()
	})
	if herr != nil {
		return herr
	}
	return nil
}

// chunked sends a write's body without a Content-Length. With one, net/http copies the
// body through a 32 KB buffer into ~20 write calls per 600 KB batch (it must stop at the
// length); chunked, it writes the caller's bytes in place, in one call. InfluxDB (1.8 and 2.x)
// reads chunked bodies like any other. A profile of ingest under make bench-ingest had that
// copy and those writes at about a tenth of its CPU.
func chunked(r *http.Request) { r.ContentLength = -1 }

// Ping reports whether the server answers /ping.
func (w *Writer) Ping(ctx context.Context) error {
	if _, err := w.client.Ping(ctx); err != nil {
		return fmt.Errorf("influx ping: %w", err)
	}
	return nil
}

// ErrSetupRefused marks a Setup failure that retrying cannot mend: the server refused the
// token, or the organisation does not exist or is not visible to the token.
var ErrSetupRefused = errors.New("refused")

// Setup makes sure the bucket exists, creating it with the given retention (0: forever)
// when it is missing. On 1.8 (told apart by /health's version, or by its lack of the
// buckets API) it creates the database and
// retention policy with InfluxQL; on 2.x it uses the buckets API.
func (w *Writer) Setup(ctx context.Context, retention time.Duration) error {
	h, err := w.client.Health(ctx)
	if err != nil {
		return fmt.Errorf("influx setup: health: %w", err)
	}
	if h.Version != nil && strings.HasPrefix(*h.Version, "1.") {
		return w.setup1x(ctx, retention)
	}
	return w.setup2x(ctx, retention)
}

func (w *Writer) setup2x(ctx context.Context, retention time.Duration) error {
	// A 1.x server whose build does not report its version has no buckets API.
	if herr := w.doJSON(ctx, http.MethodGet, "/api/v2/buckets", url.Values{"limit": {"1"}}, nil, nil); herr != nil {
		switch herr.StatusCode {
		case http.StatusNotFound:
			return w.setup1x(ctx, retention)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("influx setup: %w: InfluxDB refused the token (--influx-token): %w", ErrSetupRefused, herr)
		}
	}
	// The org first, by name: 2.x answers 404 for one that does not exist, and a bucket
	// is looked up within it (a name alone would match a bucket of any org the token
	// can read).
	var orgs struct {
		Orgs []struct{ ID, Name string } `json:"orgs"`
	}
	if herr := w.doJSON(ctx, http.MethodGet, "/api/v2/orgs", url.Values{"org": {w.cfg.Org}}, nil, &orgs); herr != nil {
		if herr.StatusCode == http.StatusNotFound {
			return fmt.Errorf("influx setup: %w: organisation %q does not exist (--influx-org)", ErrSetupRefused, w.cfg.Org)
		}
		return fmt.Errorf("influx setup: organisation %q: %w", w.cfg.Org, herr)
	}
	orgID := ""
	for _, o := range orgs.Orgs {
		if o.Name == w.cfg.Org {
			orgID = o.ID
		}
	}
	if orgID == "" {
		// 2.x leaves out of the list what the token may not read.
		return fmt.Errorf("influx setup: %w: organisation %q is not visible to this token: --setup needs a token that may read orgs and buckets and create buckets; with a write-only token, create the bucket beforehand (deploy/influxdb/setup-2x.sh) and run with --setup=false", ErrSetupRefused, w.cfg.Org)
	}
	exists, err := w.bucketExists(ctx, orgID)
	if err != nil || exists {
		return err
	}
	// 2.x keeps data for at least an hour (0: forever), as the 1.x path rounds up too.
	rules := []map[string]any{}
	if retention > 0 {
		rules = append(rules, map[string]any{"type": "expire", "everySeconds": int64(max(retention, time.Hour) / time.Second)})
	}
	body := map[string]any{"orgID": orgID, "name": w.cfg.Bucket, "retentionRules": rules}
	if herr := w.doJSON(ctx, http.MethodPost, "/api/v2/buckets", nil, body, nil); herr != nil {
		// Another replica may have created it since we looked (2.x: 422 conflict).
		if herr.StatusCode == http.StatusUnprocessableEntity {
			if exists, err := w.bucketExists(ctx, orgID); err == nil && exists {
				return nil
			}
		}
		return fmt.Errorf("influx setup: create bucket %q: %w", w.cfg.Bucket, herr)
	}
	return nil
}

// bucketExists looks the bucket up by name in the org: 2.x answers 404 when it is not
// there, and any other error is the caller's to see (never taken for "missing").
func (w *Writer) bucketExists(ctx context.Context, orgID string) (bool, error) {
	var found struct {
		Buckets []struct{ Name, OrgID string } `json:"buckets"`
	}
	herr := w.doJSON(ctx, http.MethodGet, "/api/v2/buckets", url.Values{"orgID": {orgID}, "name": {w.cfg.Bucket}}, nil, &found)
	if herr != nil {
		if herr.StatusCode == http.StatusNotFound {
			return false, nil
		}
		return false, fmt.Errorf("influx setup: bucket %q: %w", w.cfg.Bucket, herr)
	}
	for _, b := range found.Buckets {
		if b.Name == w.cfg.Bucket && b.OrgID == orgID {
			return true, nil
		}
	}
	return false, nil
}

// doJSON sends one request to the 2.x API with the client's token, a JSON body when in
// is not nil, and decodes a JSON answer into out when it is not nil.
func (w *Writer) doJSON(ctx context.Context, method, path string, q url.Values, in, out any) *http2.Error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return http2.NewError(err)
		}
		body = bytes.NewReader(b)
	}
	u := strings.TrimSuffix(w.cfg.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return http2.NewError(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return w.client.HTTPService().DoHTTPRequest(req, nil, func(r *http.Response) error {
		defer r.Body.Close()
		if out == nil {
			_, err := io.Copy(io.Discard, r.Body)
			return err
		}
		return json.NewDecoder(r.Body).Decode(out)
	})
}

// SplitBucket returns the 1.8 database and retention policy of a "db/rp" bucket.
func SplitBucket(bucket string) (db, rp string) {
	db, rp, ok := strings.Cut(bucket, "/")
	if !ok || rp == "" {
		rp = "autogen"
	}
	return db, rp
}

func (w *Writer) setup1x(ctx context.Context, retention time.Duration) error {
	db, rp := SplitBucket(w.cfg.Bucket)
	dur := "INF"
	if retention > 0 {
		dur = fmt.Sprintf("%dh", max(1, int64(retention/time.Hour)))
	}
	body, err := w.Query1x(ctx, "SHOW RETENTION POLICIES ON "+QuoteIdent(db))
	if err != nil && strings.Contains(err.Error(), "database not found") {
		_, err = w.Query1x(ctx, fmt.Sprintf("CREATE DATABASE %s WITH DURATION %s REPLICATION 1 NAME %s", QuoteIdent(db), dur, QuoteIdent(rp)))
		return err
	}
	if err != nil {
		return err
	}
	if strings.Contains(string(body), `["`+rp+`",`) {
		return nil
	}
	_, err = w.Query1x(ctx, fmt.Sprintf("CREATE RETENTION POLICY %s ON %s DURATION %s REPLICATION 1", QuoteIdent(rp), QuoteIdent(db), dur))
	return err
}

// Query1x runs an InfluxQL statement on a 1.x server through POST /query and returns the
// JSON answer; an error inside the answer is returned as an error.
func (w *Writer) Query1x(ctx context.Context, q string) ([]byte, error) {
	var body []byte
	form := url.Values{"q": {q}}
	herr := w.client.HTTPService().DoPostRequest(ctx, strings.TrimSuffix(w.cfg.URL, "/")+"/query", strings.NewReader(form.Encode()),
		func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") },
		func(r *http.Response) error {
			defer r.Body.Close()
			var err error
			body, err = io.ReadAll(r.Body)
			return err
		})
	if herr != nil {
		return nil, fmt.Errorf("influx query %q: %w", q, herr)
	}
	var r struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return body, fmt.Errorf("influx query %q: %w", q, err)
	}
	if r.Error != "" {
		return body, fmt.Errorf("influx query %q: %s", q, r.Error)
	}
	for _, res := range r.Results {
		if res.Error != "" {
			return body, fmt.Errorf("influx query %q: %s", q, res.Error)
		}
	}
	return body, nil
}

// QuoteIdent quotes an InfluxQL identifier.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
