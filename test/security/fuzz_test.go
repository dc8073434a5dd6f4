package security

import (
	"net/http"
	"strings"
	"testing"
)

// jsonRoutes are the api's routes that read a JSON body, with the principal who may use
// them and a valid body as a seed.
var jsonRoutes = []struct{ who, method, path, seed string }{
	{"staff-nord", http.MethodPost, "/api/v1/alerts/{alert}/resolve", `{"outcome":"visited_all_well","note":"ok","seen":{"count":1}}`},
	{"staff-nord", http.MethodPost, "/api/v1/alerts/{alert}/notes", `{"text":"called the son"}`},
	{"staff-nord", http.MethodPost, "/api/v1/alerts/{alert}/ack", `{}`},
	{"admin", http.MethodPost, "/api/v1/tokens", `{"name":"x","role":"staff","municipality":766,"districts":[1]}`},
	{"manager", http.MethodPost, "/api/v1/districts", `{"municipality":766,"name":"Vest"}`},
	{"manager", http.MethodPost, "/api/v1/citizens", `{"municipality":766,"name":"A","address":"B"}`},
	{"manager", http.MethodPost, "/api/v1/homes", `{"id":"home-f","district":1}`},
	{"manager", http.MethodPost, "/api/v1/gateways", `{"id":"gw-f","home":"home-sec-1"}`},
	{"manager", http.MethodPost, "/api/v1/devices", `{"id":"bu-1:f","gateway":"gw-sec-1","technology":"personal_alarm"}`},
	{"manager", http.MethodPut, "/api/v1/homes/home-sec-1/config", `{"rules":{}}`},
}

// FuzzAPIJSONBodies sends whatever body to every route that reads JSON, as a principal
// allowed to use it, against the real api on SQLite: never a 5xx (a panic is a 500), and
// the api still answers afterwards.
func FuzzAPIJSONBodies(f *testing.F) {
	for i, r := range jsonRoutes {
		f.Add(uint8(i), []byte(r.seed))
		f.Add(uint8(i), []byte(`{"text":"`+strings.Repeat("å", 1000)+`"}`))
		f.Add(uint8(i), []byte(`{"outcome":null,"note":1e999}`))
		f.Add(uint8(i), []byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	}
	w := startWorld(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := jsonRoutes[int(route)%len(jsonRoutes)]
		path := strings.ReplaceAll(r.path, "{alert}", itoa(w.alert))
		code, _, data := w.do(t, r.who, r.method, path, string(body))
		if code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", r.method, path, body, code, data)
		}
	})
}
