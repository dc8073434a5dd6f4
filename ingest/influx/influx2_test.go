package influx_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/ingest/influx"
	"github.com/vagt-dk/vagt/test/localstack/influx2"
)

// The InfluxDB 2.x paths run against influx2, a stand-in for 2.7's HTTP API: no 2.x
// server can be had here (see docs/operations.md for what to run once on a real one).

func newWriter2(t *testing.T, s *influx2.Server, org, bucket, token string, raw bool) *influx.Writer {
	t.Helper()
	w, err := influx.New(influx.Config{URL: s.URL, Org: org, Bucket: bucket, Token: token, Raw: raw, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// TestSetup2xCreatesBucket: on 2.x, Setup creates the missing bucket in the configured org
// with one expire rule of the retention (none: forever; under an hour: an hour, 2.x's
// minimum), and leaves an existing bucket alone — also one of that name in another org
// does not count as ours.
func TestSetup2xCreatesBucket(t *testing.T) {
	cases := []struct {
		name      string
		retention time.Duration
		want      time.Duration
	}{
		{"a year", 8760 * time.Hour, 8760 * time.Hour},
		{"forever", 0, 0},
		{"under an hour", 30 * time.Minute, time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := influx2.Start(t, influx2.Options{Org: "aarhus"})
			s.AddOrg("other")
			s.AddBucket("other", "telemetry", time.Hour) // same name, another org
			orgID := s.AddOrg("aarhus")
			w := newWriter2(t, s, "aarhus", "telemetry", s.Token, true)
			for range 2 { // the second time it exists
				if err := w.Setup(context.Background(), c.retention); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			var ours []influx2.Bucket
			for _, b := range s.Buckets() {
				if b.OrgID == orgID {
					ours = append(ours, b)
				}
			}
			if len(ours) != 1 || ours[0].Name != "telemetry" || ours[0].Retention != c.want {
				t.Errorf("buckets of the org: %+v, want one \"telemetry\" keeping %v", ours, c.want)
			}
			if n := len(s.Buckets()); n != 2 {
				t.Errorf("%d buckets in all, want 2", n)
			}
		})
	}
}

// TestSetup2xExistingBucketUntouched: an existing bucket keeps its retention; Setup does
// not create another.
func TestSetup2xExistingBucketUntouched(t *testing.T) {
	s := influx2.Start(t, influx2.Options{})
	s.AddBucket(s.Org, "vagt", 48*time.Hour)
	w := newWriter2(t, s, s.Org, "vagt", s.Token, false)
	if err := w.Setup(context.Background(), 8760*time.Hour); err != nil {
		t.Fatal(err)
	}
	if b := s.Buckets(); len(b) != 1 || b[0].Retention != 48*time.Hour {
		t.Errorf("buckets %+v, want the one there was", b)
	}
}

// TestSetup2xFailsClearly: a wrong org or token, or a failing server, is an error that
// says what is wrong, and no bucket is created.
func TestSetup2xFailsClearly(t *testing.T) {
	cases := []struct {
		name, org, token string
		fail             string // route answering 500
		want             string
	}{
		{"wrong org", "nowhere", "", "", `organisation "nowhere" does not exist`},
		{"wrong token", "vagt", "guess", "", "refused the token"},
		{"no token", "vagt", "-", "", "refused the token"},
		{"write-only token", "vagt", "write", "", "not visible to this token"},
		{"bucket lookup fails", "vagt", "", "GET /api/v2/buckets", "internal error"},
		{"org lookup fails", "vagt", "", "GET /api/v2/orgs", "internal error"},
		{"create fails", "vagt", "", "POST /api/v2/buckets", `create bucket "vagt"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := influx2.Start(t, influx2.Options{WriteToken: "ingest-write-only"})
			token := c.token
			switch token {
			case "":
				token = s.Token
			case "-":
				token = ""
			case "write":
				token = s.WriteToken
			}
			if c.fail != "" {
				s.Fail(c.fail, http.StatusInternalServerError)
			}
			w := newWriter2(t, s, c.org, "vagt", token, true)
			err := w.Setup(context.Background(), time.Hour)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("setup: %v, want an error with %q", err, c.want)
			}
			if b := s.Buckets(); len(b) != 0 {
				t.Errorf("created %+v", b)
			}
		})
	}
}

// TestWrite2x: writes reach the bucket of the org with a write-only token and precision
// ms, in both write modes; a repeated batch stores no second copy; a missing bucket and a
// wrong token are permanent errors, a 503 a transient one.
func TestWrite2x(t *testing.T) {
	lines := []byte("reading,gw=gw-1,mun=766 value=1 1795403520000\nreading,gw=gw-1,mun=766 value=2 1795403520001\n")
	for _, raw := range []bool{false, true} {
		s := influx2.Start(t, influx2.Options{WriteToken: "ingest-write-only"})
		s.AddBucket(s.Org, "vagt", 0)
		w := newWriter2(t, s, s.Org, "vagt", s.WriteToken, raw)
		for range 2 {
			if err := w.WritePoints(context.Background(), lines); err != nil {
				t.Fatalf("raw %v: write: %v", raw, err)
			}
		}
		if points, writes := s.Points(); points != 2 || writes != 2 {
			t.Errorf("raw %v: %d points from %d writes, want 2 from 2", raw, points, writes)
		}
		if f, ok := s.Point("vagt", "reading,gw=gw-1,mun=766", time.UnixMilli(1795403520001)); !ok || f != "value=2" {
			t.Errorf("raw %v: the point at ms 1795403520001: %q %v (precision ms not sent?)", raw, f, ok)
		}
		var we *influx.WriteError
		for _, c := range []struct {
			name      string
			w         *influx.Writer
			fail      int
			permanent bool
		}{
			{"missing bucket", newWriter2(t, s, s.Org, "none", s.Token, raw), 0, true},
			{"wrong token", newWriter2(t, s, s.Org, "vagt", "guess", raw), 0, true},
			{"unavailable", w, http.StatusServiceUnavailable, false},
		} {
			if c.fail != 0 {
				s.Fail("POST /api/v2/write", c.fail)
			}
			err := c.w.WritePoints(context.Background(), lines)
			s.Fail("POST /api/v2/write", 0)
			if !errors.As(err, &we) || we.Permanent() != c.permanent {
				t.Errorf("raw %v, %s: %v, want a WriteError, permanent %v", raw, c.name, err, c.permanent)
			}
		}
	}
}
