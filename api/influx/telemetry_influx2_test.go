package influx_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/test/localstack/influx2"
)

// The 2.x paths of Telemetry run against influx2, a stand-in for InfluxDB 2.7's HTTP API
// (no 2.x server can be had here; docs/operations.md says what to run once on a real one).

func telemetry2x(t *testing.T, s *influx2.Server, bucket, token string) *influx.Telemetry {
	t.Helper()
	tel, err := influx.NewTelemetry(influx.Config{URL: s.URL, Org: s.Org, Bucket: bucket, Token: token, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tel.Close)
	return tel
}

// TestDeleteGateways2x: erasure sends one delete per gateway to the org's bucket, with
// the predicate gw="<id>" (which 2.7 accepts) over all time up to beyond now.
func TestDeleteGateways2x(t *testing.T) {
	s := influx2.Start(t, influx2.Options{Org: "aarhus"})
	s.AddBucket("aarhus", "telemetry", 0)
	tel := telemetry2x(t, s, "telemetry", s.Token)
	before := time.Now()
	if err := tel.DeleteGateways(context.Background(), []vagt.GatewayID{"gw-1", "gw-2a"}); err != nil {
		t.Fatal(err)
	}
	got := s.Deletes()
	if len(got) != 2 {
		t.Fatalf("%d deletes, want 2: %+v", len(got), got)
	}
	for i, gw := range []string{"gw-1", "gw-2a"} {
		d := got[i]
		if d.Org != "aarhus" || d.Bucket != "telemetry" {
			t.Errorf("delete %d in %s/%s, want aarhus/telemetry", i, d.Org, d.Bucket)
		}
		if d.Predicate != `gw="`+gw+`"` || len(d.Terms) != 1 || d.Terms[0] != (influx2.TagEq{Key: "gw", Value: gw}) {
			t.Errorf("delete %d: predicate %q (%v), want gw=%q", i, d.Predicate, d.Terms, gw)
		}
		if !d.Start.Equal(time.Unix(0, 0)) || !d.Stop.After(before.Add(23*time.Hour)) {
			t.Errorf("delete %d over [%v, %v], want from 1970 to beyond now", i, d.Start, d.Stop)
		}
	}
}

// TestDeleteBefore2x: retention deletes the municipality's points (mun="<code>") from the
// beginning to just before the cut-off: 2.x's stop is inclusive, 1.8's `time < before`
// is not, and a point at the cut-off stays on both.
func TestDeleteBefore2x(t *testing.T) {
	s := influx2.Start(t, influx2.Options{})
	s.AddBucket(s.Org, "vagt", 0)
	tel := telemetry2x(t, s, "vagt", s.Token)
	cut := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := tel.DeleteBefore(context.Background(), 766, cut); err != nil {
		t.Fatal(err)
	}
	got := s.Deletes()
	if len(got) != 1 {
		t.Fatalf("%d deletes, want 1", len(got))
	}
	d := got[0]
	if d.Predicate != `mun="766"` || d.Org != s.Org || d.Bucket != "vagt" {
		t.Errorf("delete %q in %s/%s, want mun=\"766\" in %s/vagt", d.Predicate, d.Org, d.Bucket, s.Org)
	}
	if !d.Start.Equal(time.Unix(0, 0)) || !d.Stop.Equal(cut.Add(-time.Nanosecond)) {
		t.Errorf("delete over [%v, %v], want [1970, %v)", d.Start, d.Stop, cut)
	}
}

// TestDelete2xErrors: a refused token, a missing bucket or org and a failing server are
// errors (ErrNoTelemetry: the API answers 503), never a silent success.
func TestDelete2xErrors(t *testing.T) {
	cases := []struct {
		name, bucket, token string
		fail                int
	}{
		{"401 wrong token", "vagt", "guess", 0},
		{"404 bucket", "nowhere", "", 0},
		{"500", "vagt", "", http.StatusInternalServerError},
		{"503", "vagt", "", http.StatusServiceUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := influx2.Start(t, influx2.Options{})
			s.AddBucket(s.Org, "vagt", 0)
			if c.fail != 0 {
				s.Fail("POST /api/v2/delete", c.fail)
			}
			token := c.token
			if token == "" {
				token = s.Token
			}
			tel := telemetry2x(t, s, c.bucket, token)
			if err := tel.DeleteGateways(context.Background(), []vagt.GatewayID{"gw-1"}); !errors.Is(err, api.ErrNoTelemetry) {
				t.Errorf("DeleteGateways: %v, want ErrNoTelemetry", err)
			}
			if err := tel.DeleteBefore(context.Background(), 766, time.Now()); !errors.Is(err, api.ErrNoTelemetry) {
				t.Errorf("DeleteBefore: %v, want ErrNoTelemetry", err)
			}
			if d := s.Deletes(); len(d) != 0 {
				t.Errorf("deleted %+v", d)
			}
		})
	}
}

// TestDelete2xRefusesInjection: a gateway id that would change the predicate (a quote, an
// AND, an OR) is refused before any request, and none of the list is deleted — also not
// the valid ids before it.
func TestDelete2xRefusesInjection(t *testing.T) {
	s := influx2.Start(t, influx2.Options{})
	s.AddBucket(s.Org, "vagt", 0)
	tel := telemetry2x(t, s, "vagt", s.Token)
	for _, bad := range []vagt.GatewayID{`gw-1" AND mun="766`, `gw-1" OR gw="gw-2`, `gw"1`, `gw-1\`, `gw 1`, ""} {
		err := tel.DeleteGateways(context.Background(), []vagt.GatewayID{"gw-ok", bad})
		if !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
	if d := s.Deletes(); len(d) != 0 {
		t.Errorf("deleted %+v", d)
	}
	// What 2.7 would have done with the first: accepted it, a narrower delete than asked.
	if terms, err := influx2.ParsePredicate(`gw="gw-1" AND mun="766"`); err != nil || len(terms) != 2 {
		t.Errorf("the injected predicate parses to %v, %v", terms, err)
	}
}

// TestQueries2x: the Flux queries go to the org with the 2.x bucket name in from(); a
// bucket that does not exist is an error.
func TestQueries2x(t *testing.T) {
	s := influx2.Start(t, influx2.Options{Org: "aarhus"})
	s.AddBucket("aarhus", "telemetry", 0)
	tel := telemetry2x(t, s, "telemetry", s.Token)
	ctx := context.Background()
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, err := tel.ActiveDevices(ctx, []vagt.MunicipalityCode{751}, from, to); err != nil {
		t.Fatalf("active devices: %v", err)
	}
	if _, err := tel.Readings(ctx, []vagt.GatewayID{"gw-1"}, from, to); err != nil {
		t.Fatalf("readings: %v", err)
	}
	q := s.Queries()
	if len(q) != 2 {
		t.Fatalf("%d queries, want 2", len(q))
	}
	for _, want := range []string{`r.mun == "751"`, `r.gw == "gw-1"`} {
		found := false
		for _, x := range q {
			found = found || (x.Org == "aarhus" && strings.Contains(x.Flux, `from(bucket: "telemetry")`) && strings.Contains(x.Flux, want))
		}
		if !found {
			t.Errorf("no query in org aarhus on bucket telemetry with %s: %+v", want, q)
		}
	}
	missing := telemetry2x(t, s, "nowhere", s.Token)
	if _, err := missing.ActiveDevices(ctx, nil, from, to); !errors.Is(err, api.ErrNoTelemetry) {
		t.Errorf("missing bucket: %v, want ErrNoTelemetry", err)
	}
}
