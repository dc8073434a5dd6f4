package influx2

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The endpoints, each as InfluxDB 2.7 answers it.

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	respond(w, http.StatusOK, map[string]any{
		"name": "influxdb", "message": "ready for queries and writes", "status": "pass",
		"checks": []any{}, "version": Version, "commit": "stand-in",
	})
}

func (s *Server) ping(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Influxdb-Build", "OSS")
	w.Header().Set("X-Influxdb-Version", Version)
	w.WriteHeader(http.StatusNoContent)
}

// orgLocked resolves the org (name, or a 16-hex-digit ID as 2.x tries first) or orgID
// parameter; the error status and message are 2.x's.
func (s *Server) orgLocked(q map[string][]string) (name, id string, status int, msg string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if oid := get("orgID"); oid != "" {
		for n, i := range s.orgs {
			if i == oid {
				return n, i, 0, ""
			}
		}
		return "", "", http.StatusNotFound, "organization not found"
	}
	org := get("org")
	if org == "" {
		return "", "", http.StatusBadRequest, "Please provide either orgID or org"
	}
	for n, i := range s.orgs {
		if n == org || i == org {
			return n, i, 0, ""
		}
	}
	return "", "", http.StatusNotFound, fmt.Sprintf("organization name %q not found", org)
}

func (s *Server) bucketLocked(orgID, name string) (Bucket, bool) {
	for _, b := range s.buckets {
		if b.OrgID == orgID && (b.Name == name || b.ID == name) {
			return b, true
		}
	}
	return Bucket{}, false
}

// resolve finds the org and bucket of a write or delete request.
func (s *Server) resolveLocked(r *http.Request) (org string, b Bucket, status int, msg string) {
	q := r.URL.Query()
	org, orgID, status, msg := s.orgLocked(q)
	if status != 0 {
		return "", Bucket{}, status, msg
	}
	name := q.Get("bucket")
	if name == "" {
		name = q.Get("bucketID")
	}
	if name == "" {
		return "", Bucket{}, http.StatusBadRequest, "Please provide either bucketID or bucket"
	}
	b, ok := s.bucketLocked(orgID, name)
	if !ok {
		return "", Bucket{}, http.StatusNotFound, fmt.Sprintf("bucket %q not found", name)
	}
	return org, b, 0, ""
}

type orgJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// getOrgs: GET /api/v2/orgs[?org=name]; a name that does not exist is 404 in 2.x.
func (s *Server) getOrgs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []orgJSON{}
	want := r.URL.Query().Get("org")
	found := false
	for n, id := range s.orgs {
		if want == "" || want == n {
			found = true
			if writeOnly(r) {
				// 2.x finds it, then leaves it out: the token may not read it.
				continue
			}
			out = append(out, orgJSON{ID: id, Name: n})
		}
	}
	if want != "" && !found {
		apiError(w, http.StatusNotFound, "not found", fmt.Sprintf("organization name %q not found", want))
		return
	}
	respond(w, http.StatusOK, map[string]any{"links": map[string]string{"self": "/api/v2/orgs"}, "orgs": out})
}

type ruleJSON struct {
	Type         string `json:"type,omitempty"`
	EverySeconds int64  `json:"everySeconds"`
}

type bucketJSON struct {
	ID             string     `json:"id,omitempty"`
	OrgID          string     `json:"orgID,omitempty"`
	Type           string     `json:"type,omitempty"`
	Name           string     `json:"name"`
	RetentionRules []ruleJSON `json:"retentionRules"`
}

func toJSON(b Bucket) bucketJSON {
	rules := []ruleJSON{}
	if b.Retention > 0 {
		rules = append(rules, ruleJSON{Type: "expire", EverySeconds: int64(b.Retention / time.Second)})
	}
	return bucketJSON{ID: b.ID, OrgID: b.OrgID, Type: "user", Name: b.Name, RetentionRules: rules}
}

// getBuckets: GET /api/v2/buckets with org/orgID, name, id, limit, offset. As in 2.7's
// tenant service: an org that does not exist is 404; a name together with an org is a
// lookup, and a bucket that does not exist is 404; a name alone filters every org's
// buckets (200, possibly empty).
func (s *Server) getBuckets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	orgID := ""
	if q.Get("org") != "" || q.Get("orgID") != "" {
		var status int
		var msg string
		if _, orgID, status, msg = s.orgLocked(q); status != 0 {
			apiError(w, status, codes[status], msg)
			return
		}
	}
	name := q.Get("name")
	limit, offset := 20, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			apiError(w, http.StatusBadRequest, "invalid", "limit must be between 1 and 100")
			return
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "invalid", "offset must not be negative")
			return
		}
		offset = n
	}
	if name != "" && orgID != "" {
		b, ok := s.bucketLocked(orgID, name)
		if !ok {
			apiError(w, http.StatusNotFound, "not found", fmt.Sprintf("bucket %q not found", name))
			return
		}
		out := []bucketJSON{}
		if !writeOnly(r) {
			out = append(out, toJSON(b))
		}
		respond(w, http.StatusOK, map[string]any{"links": map[string]string{}, "buckets": out})
		return
	}
	out := []bucketJSON{}
	for _, b := range s.buckets {
		if writeOnly(r) {
			break
		}
		if (orgID == "" || b.OrgID == orgID) && (name == "" || b.Name == name) && (q.Get("id") == "" || b.ID == q.Get("id")) {
			out = append(out, toJSON(b))
		}
	}
	out = out[min(offset, len(out)):]
	out = out[:min(limit, len(out))]
	respond(w, http.StatusOK, map[string]any{"links": map[string]string{}, "buckets": out})
}

// postBucket: POST /api/v2/buckets {orgID, name, retentionRules}; 201 with the bucket.
// Refusals as 2.7: no orgID 400; more than one rule or a negative one 422; a retention
// under an hour 422 (the minimum 2.x accepts; 0 is forever); an unknown org 404; a name
// taken in the org 422 conflict; a name starting with "_" 400.
func (s *Server) postBucket(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OrgID          string     `json:"orgID"`
		Name           string     `json:"name"`
		RetentionRules []ruleJSON `json:"retentionRules"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "invalid", "malformed JSON: "+err.Error())
		return
	}
	if writeOnly(r) {
		apiError(w, http.StatusUnauthorized, "unauthorized", fmt.Sprintf("write:orgs/%s/buckets is unauthorized", req.OrgID))
		return
	}
	if req.OrgID == "" {
		apiError(w, http.StatusBadRequest, "invalid", "organization id must be provided")
		return
	}
	if len(req.RetentionRules) > 1 {
		apiError(w, http.StatusUnprocessableEntity, "unprocessable entity", "buckets cannot have more than one retention rule at this time")
		return
	}
	var retention time.Duration
	if len(req.RetentionRules) == 1 {
		rule := req.RetentionRules[0]
		if rule.Type != "" && rule.Type != "expire" {
			apiError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("retention rule type %q: want expire", rule.Type))
			return
		}
		if rule.EverySeconds < 0 {
			apiError(w, http.StatusUnprocessableEntity, "unprocessable entity", "expiration seconds cannot be negative")
			return
		}
		retention = time.Duration(rule.EverySeconds) * time.Second
		if retention > 0 && retention < time.Hour {
			apiError(w, http.StatusUnprocessableEntity, "unprocessable entity", "retention policy duration must be at least 1h0m0s")
			return
		}
	}
	if strings.HasPrefix(req.Name, "_") || req.Name == "" {
		apiError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("bucket name %s is invalid. Buckets may not start with underscore", req.Name))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	for _, id := range s.orgs {
		known = known || id == req.OrgID
	}
	if !known {
		apiError(w, http.StatusNotFound, "not found", "organization not found")
		return
	}
	if _, ok := s.bucketLocked(req.OrgID, req.Name); ok {
		apiError(w, http.StatusUnprocessableEntity, "conflict", fmt.Sprintf("bucket with name %s already exists", req.Name))
		return
	}
	b := Bucket{ID: s.id(), OrgID: req.OrgID, Name: req.Name, Retention: retention}
	s.buckets = append(s.buckets, b)
	respond(w, http.StatusCreated, toJSON(b))
}

var precisions = map[string]time.Duration{"": time.Nanosecond, "ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}

// write: POST /api/v2/write?org&bucket&precision; 204. Each line is checked for a
// measurement, a field set and an integer timestamp; a point is stored under its series
// key and timestamp in ns, so a repeated point overwrites itself, as in InfluxDB.
func (s *Server) write(w http.ResponseWriter, r *http.Request) {
	unit, ok := precisions[r.URL.Query().Get("precision")]
	if !ok {
		apiError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("invalid precision %q", r.URL.Query().Get("precision")))
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid", "gzip: "+err.Error())
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, b, status, msg := s.resolveLocked(r)
	if status != 0 {
		apiError(w, status, codes[status], msg)
		return
	}
	parsed := map[string]string{}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		// Our writers never escape (ids are restricted), so splitting on spaces is exact.
		parts := strings.Split(string(line), " ")
		if len(parts) != 3 || parts[0] == "" || !strings.Contains(parts[1], "=") {
			apiError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("unable to parse '%s': want measurement,tags fields timestamp", line))
			return
		}
		ts, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("unable to parse '%s': bad timestamp", line))
			return
		}
		parsed[b.ID+" "+parts[0]+" "+strconv.FormatInt(ts*int64(unit), 10)] = parts[1]
	}
	for k, v := range parsed {
		s.points[k] = v
	}
	s.writes++
	w.WriteHeader(http.StatusNoContent)
}

// delete: POST /api/v2/delete?org&bucket with {"start","stop","predicate"}; 204. As
// 2.7's handler: RFC3339Nano times within InfluxDB's range, start not after stop, the
// predicate parsed by ParsePredicate; then org and bucket are resolved (404).
func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Start     string `json:"start"`
		Stop      string `json:"stop"`
		Predicate string `json:"predicate"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "invalid", "invalid request; error parsing request json: "+err.Error())
		return
	}
	start, err := time.Parse(time.RFC3339Nano, req.Start)
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid", "invalid RFC3339Nano for field start, please format your time with RFC3339Nano format, example: 2009-01-02T23:00:00Z")
		return
	}
	stop, err := time.Parse(time.RFC3339Nano, req.Stop)
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid", "invalid RFC3339Nano for field stop, please format your time with RFC3339Nano format, example: 2009-01-01T23:00:00Z")
		return
	}
	minTime, maxTime := time.Unix(0, -9223372036854775806), time.Unix(0, 9223372036854775806)
	if start.Before(minTime) || stop.After(maxTime) || stop.Before(start) {
		apiError(w, http.StatusBadRequest, "invalid", "invalid time range: start and stop must be within InfluxDB's range, start not after stop")
		return
	}
	terms, err := ParsePredicate(req.Predicate)
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid", "invalid request; error parsing request json: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	org, b, status, msg := s.resolveLocked(r)
	if status != 0 {
		apiError(w, status, codes[status], msg)
		return
	}
	s.deletes = append(s.deletes, Delete{Org: org, Bucket: b.Name, Start: start.UTC(), Stop: stop.UTC(), Predicate: req.Predicate, Terms: terms})
	w.WriteHeader(http.StatusNoContent)
}

var fromBucket = regexp.MustCompile(`from\(bucket:\s*"((?:[^"\\]|\\.)*)"\)`)

// query: POST /api/v2/query?org with {"query": flux}; the org must exist, and every
// from(bucket: "...") must name a bucket of it (2.x: 404 could not find bucket). The
// answer is an empty annotated-CSV result.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query string `json:"query"`
	}
	if writeOnly(r) {
		apiError(w, http.StatusUnauthorized, "unauthorized", "read:buckets is unauthorized")
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Query == "" {
		apiError(w, http.StatusBadRequest, "invalid", "failed to decode request body: no query")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	org, orgID, status, msg := s.orgLocked(r.URL.Query())
	if status != 0 {
		apiError(w, status, codes[status], msg)
		return
	}
	for _, m := range fromBucket.FindAllStringSubmatch(req.Query, -1) {
		if _, ok := s.bucketLocked(orgID, m[1]); !ok {
			apiError(w, http.StatusNotFound, "not found", fmt.Sprintf("failed to initialize execute state: could not find bucket %q", m[1]))
			return
		}
	}
	s.queries = append(s.queries, Query{Org: org, Flux: req.Query})
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "\r\n")
}
