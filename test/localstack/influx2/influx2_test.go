package influx2

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestParsePredicate: what InfluxDB 2.7 takes as a delete predicate, and what it refuses.
func TestParsePredicate(t *testing.T) {
	cases := []struct {
		in      string
		want    []TagEq
		refuses string // part of the error; "" accepts
	}{
		{``, nil, ""},
		{`gw="gw-1"`, []TagEq{{"gw", "gw-1"}}, ""},
		{`mun="766"`, []TagEq{{"mun", "766"}}, ""},
		{`mun=766`, []TagEq{{"mun", "766"}}, ""},
		{`_measurement="reading" AND gw="gw-1"`, []TagEq{{"_measurement", "reading"}, {"gw", "gw-1"}}, ""},
		{`(gw="a" and "dev"="d-1")`, []TagEq{{"gw", "a"}, {"dev", "d-1"}}, ""},
		{`gw="a\"b"`, []TagEq{{"gw", `a"b`}}, ""},
		{`gw="a" OR gw="b"`, nil, "OR is not supported"},
		{`gw=~/a.*/`, nil, "not supported"},
		{`gw!="a"`, nil, "!="},
		{`gw='a'`, nil, "bad tag value"},
		{`_field="value"`, nil, "cannot delete data by column"},
		{`_value="1"`, nil, "cannot delete data by column"},
		{`gw="a"b"`, nil, "unterminated"},
		{`gw="a" mun="1"`, nil, "bad logical expression"},
		{`(gw="a"`, nil, "extra ("},
		{`gw="a")`, nil, "extra )"},
		{`gw>"a"`, nil, "invalid operator"},
		{`="a"`, nil, "bad tag key"},
	}
	for _, c := range cases {
		got, err := ParsePredicate(c.in)
		switch {
		case c.refuses == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.refuses != "" && (err == nil || !strings.Contains(err.Error(), c.refuses)):
			t.Errorf("%s: error %v, want one with %q", c.in, err, c.refuses)
		case c.refuses == "" && !reflect.DeepEqual(got, c.want):
			t.Errorf("%s: %v, want %v", c.in, got, c.want)
		}
	}
}

// TestAuthAndErrors: no token or a wrong one is 401 with 2.x's body on every /api/v2 route;
// /health answers without a token.
func TestAuthAndErrors(t *testing.T) {
	s := Start(t, Options{WriteToken: "write-only"})
	for _, c := range []struct {
		method, path, auth string
		status             int
	}{
		{"GET", "/health", "", 200},
		{"GET", "/api/v2/buckets", "", 401},
		{"GET", "/api/v2/buckets", "Token wrong", 401},
		{"GET", "/api/v2/buckets", "Token " + s.Token, 200},
		{"GET", "/api/v2/buckets", "Bearer " + s.Token, 200},
		{"GET", "/api/v2/buckets?org=nobody", "Token " + s.Token, 404},
		{"GET", "/api/v2/orgs?org=nobody", "Token " + s.Token, 404},
		{"POST", "/api/v2/delete", "", 401},
		{"POST", "/api/v2/write?org=vagt&bucket=none", "Token " + s.Token, 404},
		{"POST", "/api/v2/write?org=vagt&bucket=none", "Token write-only", 404},
		{"GET", "/api/v2/orgs?org=vagt", "Token write-only", 200}, // listed without it
		{"POST", "/api/v2/query?org=vagt", "Token write-only", 401},
	} {
		req, _ := http.NewRequest(c.method, s.URL+c.path, strings.NewReader("x,a=b v=1 1\n"))
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s (%q): %d, want %d", c.method, c.path, c.auth, resp.StatusCode, c.status)
		}
		if c.status >= 400 && resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s %s: error body of type %q, want JSON", c.method, c.path, resp.Header.Get("Content-Type"))
		}
	}
}
