// Package influx2 is a stand-in for the part of InfluxDB 2.x's HTTP API that vagt uses,
// for tests: no 2.x server can be had on the build machines (localstack runs 1.8.10,
// which has no /api/v2/buckets, /api/v2/orgs or /api/v2/delete).
//
// It follows InfluxDB OSS 2.7 as its OpenAPI document and its source describe the
// endpoints: every /api/v2 route wants "Authorization: Token <token>" (or Bearer) and
// answers 401 {"code":"unauthorized","message":"unauthorized access"} without it; org and
// bucket are looked up by name (or ID) and a missing one is 404 {"code":"not found",...};
// delete predicates are parsed with 2.7's rules (see ParsePredicate); errors are JSON
// {"code","message"} with the status 2.7 maps the code to. It records what it was asked
// and keeps written points keyed by series and timestamp, as InfluxDB does, so a test
// can check what reached it. It is not InfluxDB: no Flux engine (queries are recorded and
// answered with an empty result), no storage beyond the points map.
package influx2

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is what /health and /ping report.
const Version = "v2.7.11"

// Options set up the server; Org is created with the server.
type Options struct {
	Token string // an operator token (all access); default "vagt-test-token"
	Org   string // default "vagt"
	// WriteToken, when set, is a second token that may only write (and delete) in the
	// org's buckets, like the one deploy/influxdb/setup-2x.sh makes for ingest. As in 2.x,
	// lists of orgs and buckets leave out what it may not read (200, empty), creating a
	// bucket is 401, and so is a query.
	WriteToken string
}

// Bucket is a bucket the server holds.
type Bucket struct {
	ID, OrgID, Name string
	Retention       time.Duration // 0: forever
}

// Delete is one accepted POST /api/v2/delete.
type Delete struct {
	Org, Bucket string // names
	Start, Stop time.Time
	Predicate   string
	Terms       []TagEq
}

// Query is one accepted POST /api/v2/query.
type Query struct {
	Org, Flux string
}

// Server is the stand-in; its URL is the base URL for a client.
type Server struct {
	URL        string
	Token      string
	WriteToken string
	Org        string

	srv     *httptest.Server
	mu      sync.Mutex
	nextID  uint64
	orgs    map[string]string // name → id
	buckets []Bucket
	deletes []Delete
	queries []Query
	points  map[string]string // bucket id + series key + timestamp (ns) → fields
	writes  int
	faults  map[string]int // "METHOD /path" → status to answer
}

// Start runs a stand-in until the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Token == "" {
		o.Token = "vagt-test-token"
	}
	if o.Org == "" {
		o.Org = "vagt"
	}
	s := &Server{Token: o.Token, WriteToken: o.WriteToken, Org: o.Org, nextID: 0x0a1b2c3d4e5f0000, orgs: map[string]string{}, points: map[string]string{}, faults: map[string]int{}}
	s.AddOrg(o.Org)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /ping", s.ping)
	mux.HandleFunc("HEAD /ping", s.ping)
	mux.Handle("GET /api/v2/orgs", s.api(s.getOrgs))
	mux.Handle("GET /api/v2/buckets", s.api(s.getBuckets))
	mux.Handle("POST /api/v2/buckets", s.api(s.postBucket))
	mux.Handle("POST /api/v2/write", s.api(s.write))
	mux.Handle("POST /api/v2/delete", s.api(s.delete))
	mux.Handle("POST /api/v2/query", s.api(s.query))
	mux.Handle("/api/v2/", s.api(func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "not found", "path not found")
	}))
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *Server) id() string {
	s.nextID++
	return fmt.Sprintf("%016x", s.nextID)
}

// AddOrg creates an organisation and returns its ID.
func (s *Server) AddOrg(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.orgs[name]; ok {
		return id
	}
	id := s.id()
	s.orgs[name] = id
	return id
}

// AddBucket creates a bucket in an organisation that exists.
func (s *Server) AddBucket(org, name string, retention time.Duration) Bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := Bucket{ID: s.id(), OrgID: s.orgs[org], Name: name, Retention: retention}
	s.buckets = append(s.buckets, b)
	return b
}

// Buckets returns the buckets the server holds.
func (s *Server) Buckets() []Bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.buckets)
}

// Deletes returns the deletes the server accepted, in order.
func (s *Server) Deletes() []Delete {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deletes)
}

// Queries returns the Flux queries the server accepted, in order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// Points returns the number of distinct points (series and timestamp) written, and the
// number of accepted write requests.
func (s *Server) Points() (points, writes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.points), s.writes
}

// Point returns the field set stored for series (measurement and tags, as written) at t in
// the named bucket of the server's org.
func (s *Server) Point(bucket, series string, t time.Time) (fields string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, found := s.bucketLocked(s.orgs[s.Org], bucket)
	if !found {
		return "", false
	}
	fields, ok = s.points[b.ID+" "+series+" "+strconv.FormatInt(t.UnixNano(), 10)]
	return fields, ok
}

// Fail makes route ("POST /api/v2/delete") answer status with 2.x's error body until
// Fail(route, 0). The request is not carried out.
func (s *Server) Fail(route string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.faults, route)
		return
	}
	s.faults[route] = status
}

// codes are 2.x's error codes by status (kit/platform/errors).
var codes = map[int]string{
	400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not found", 405: "method not allowed",
	413: "request too large", 415: "unsupported media type", 422: "conflict", 429: "too many requests",
	500: "internal error", 503: "unavailable",
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Platform-Error-Code", code)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func respond(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type writeOnlyKey struct{}

// writeOnly reports whether r came with the write-only token.
func writeOnly(r *http.Request) bool { return r.Context().Value(writeOnlyKey{}) != nil }

// api checks the token and injected faults before h.
func (s *Server) api(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, token, _ := strings.Cut(auth, " ")
		switch {
		case scheme != "Token" && scheme != "Bearer":
			apiError(w, http.StatusUnauthorized, "unauthorized", "unauthorized access")
			return
		case token == s.Token:
		case token == s.WriteToken && token != "":
			r = r.WithContext(context.WithValue(r.Context(), writeOnlyKey{}, true))
		default:
			apiError(w, http.StatusUnauthorized, "unauthorized", "unauthorized access")
			return
		}
		s.mu.Lock()
		status := s.faults[r.Method+" "+r.URL.Path]
		s.mu.Unlock()
		if status != 0 {
			apiError(w, status, codes[status], fmt.Sprintf("injected failure %d", status))
			return
		}
		h(w, r)
	})
}
