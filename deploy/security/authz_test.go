package security

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt/api/httpapi"
)

// principals are every role, inside and outside the alert's district and municipality.
var principals = []string{"", "staff-nord", "staff-syd", "staff-away", "manager", "manager-away", "national", "admin",
	"citizen", "citizen-other"}

// rule says who must be refused a route: the principals listed get no 2xx (an anonymous
// caller always gets 401 on /api/v1). Who is allowed is each handler's own tests' business;
// the matrix holds the boundaries.
type rule struct {
	denied []string
	public bool // outside /api/v1: no token needed
}

var (
	notStaffNord   = []string{"staff-syd", "staff-away", "manager", "manager-away", "national", "citizen", "citizen-other"}
	notCareOrAdmin = []string{"staff-away", "manager-away", "national", "citizen", "citizen-other"}
	onlyAdmin      = []string{"staff-nord", "staff-syd", "staff-away", "manager", "manager-away", "national", "citizen", "citizen-other"}
	notCitizens    = []string{"citizen", "citizen-other"}
	registryWrite  = []string{"staff-nord", "staff-syd", "staff-away", "national", "citizen", "citizen-other"}
	citizenRecord  = []string{"staff-syd", "staff-away", "manager-away", "national", "citizen-other"}
)

// matrix has every route the api serves. A route added without a line here fails
// TestEveryRouteIsInTheMatrix: decide who must be refused it first.
var matrix = map[string]rule{
	"GET /healthz":                          {public: true},
	"GET /readyz":                           {public: true},
	"GET /openapi.yaml":                     {public: true},
	"GET /":                                 {public: true},
	"GET /stats":                            {public: true},
	"GET /careplan":                         {public: true},
	"GET /assets/{file}":                    {public: true},
	"GET /metrics":                          {public: true},
	"GET /api/v1/me":                        {},
	"GET /api/v1/alerts":                    {denied: []string{"national", "citizen", "citizen-other"}},
	"GET /api/v1/alerts/stream":             {denied: []string{"national", "citizen", "citizen-other"}},
	"GET /api/v1/alerts/{id}":               {denied: notStaffNord},
	"POST /api/v1/alerts/{id}/ack":          {denied: notStaffNord},
	"POST /api/v1/alerts/{id}/resolve":      {denied: notStaffNord},
	"POST /api/v1/alerts/{id}/notes":        {denied: notStaffNord},
	"POST /api/v1/tokens":                   {denied: onlyAdmin},
	"GET /api/v1/audit":                     {denied: onlyAdmin},
	"GET /api/v1/municipalities":            {}, // names and codes: public facts
	"GET /api/v1/districts":                 {denied: notCitizens},
	"POST /api/v1/districts":                {denied: registryWrite},
	"PATCH /api/v1/districts/{id}":          {denied: registryWrite},
	"DELETE /api/v1/districts/{id}":         {denied: registryWrite},
	"GET /api/v1/citizens":                  {denied: []string{"national", "citizen", "citizen-other"}},
	"POST /api/v1/citizens":                 {denied: registryWrite},
	"GET /api/v1/citizens/{id}":             {denied: citizenRecord},
	"DELETE /api/v1/citizens/{id}":          {denied: append([]string{"staff-nord", "manager"}, citizenRecord...)},
	"PATCH /api/v1/citizens/{id}":           {denied: append([]string{"staff-nord", "citizen"}, citizenRecord...)},
	"POST /api/v1/citizens/{id}/token":      {denied: append([]string{"staff-nord"}, citizenRecord...)},
	"GET /api/v1/homes":                     {denied: []string{"national", "citizen", "citizen-other"}},
	"POST /api/v1/homes":                    {denied: registryWrite},
	"PATCH /api/v1/homes/{id}":              {denied: append([]string{"manager-away"}, registryWrite...)},
	"DELETE /api/v1/homes/{id}":             {denied: append([]string{"manager-away"}, registryWrite...)},
	"GET /api/v1/gateways":                  {denied: []string{"national", "citizen", "citizen-other"}},
	"POST /api/v1/gateways":                 {denied: registryWrite},
	"PATCH /api/v1/gateways/{id}":           {denied: registryWrite},
	"DELETE /api/v1/gateways/{id}":          {denied: registryWrite},
	"GET /api/v1/devices":                   {denied: []string{"national", "citizen", "citizen-other"}},
	"POST /api/v1/devices":                  {denied: registryWrite},
	"POST /api/v1/devices/{device}/accept":  {denied: registryWrite},
	"POST /api/v1/devices/{device}/remove":  {denied: registryWrite},
	"GET /api/v1/stats/adoption":            {denied: notCitizens},
	"GET /api/v1/stats/alerts":              {denied: notCitizens},
	"GET /api/v1/stats/benefits":            {denied: notCitizens},
	"GET /api/v1/me/data":                   {denied: []string{"staff-nord", "manager", "national", "admin"}},
	"GET /api/v1/homes/{id}/config":         {denied: notCareOrAdmin},
	"PUT /api/v1/homes/{id}/config":         {denied: append([]string{"staff-syd"}, notCareOrAdmin...)},
	"GET /api/v1/careplans":                 {denied: []string{"national", "citizen", "citizen-other"}},
	"GET /api/v1/homes/{id}/config/history": {denied: notCareOrAdmin},

	"POST /api/v1/gateways/{id}/credentials": {denied: registryWrite},
}

// routes returns "METHOD pattern" of every route the api's router serves.
func routes(t *testing.T) []string {
	t.Helper()
	h := httpapi.NewHandler(httpapi.Config{Gatherer: nil})
	r, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("the api's handler is a %T, not a chi router: the matrix cannot list its routes", h)
	}
	var out []string
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, method+" "+strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/*"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryRouteIsInTheMatrix(t *testing.T) {
	for _, r := range routes(t) {
		if _, ok := matrix[r]; !ok {
			t.Errorf("route %q is not in the authorisation matrix (deploy/security/authz_test.go): say who must be refused it", r)
		}
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	w := startWorld(t)
	served := map[string]bool{}
	for _, r := range routes(t) {
		served[r] = true
	}
	subst := strings.NewReplacer("{id}", itoa(w.alert), "{device}", "bu-1:btn", "{file}", "vagt.css")
	for route, rl := range matrix {
		if !served[route] {
			continue // optional routes (/metrics without a registry) or one removed
		}
		method, pattern, _ := strings.Cut(route, " ")
		path := pattern
		switch {
		case strings.HasPrefix(pattern, "/api/v1/citizens/{id}"):
			path = strings.Replace(pattern, "{id}", itoa(w.citizen), 1)
		case strings.HasPrefix(pattern, "/api/v1/homes/{id}"):
			path = strings.Replace(pattern, "{id}", w.home, 1)
		}
		path = subst.Replace(path)
		// A valid body, so that the refusal comes from authorisation, not validation.
		body := map[string]string{
			"POST /api/v1/alerts/{id}/resolve": `{"outcome":"visited_all_well","note":"matrix"}`,
			"POST /api/v1/alerts/{id}/notes":   `{"text":"matrix"}`,
			"POST /api/v1/homes":               `{"id":"home-matrix","district":` + itoa(w.north) + `}`,
			"POST /api/v1/gateways":            `{"id":"gw-matrix","home":"` + w.home + `"}`,
			"POST /api/v1/devices":             `{"id":"bu-1:matrix","gateway":"gw-sec-1","technology":"personal_alarm"}`,
		}[route]
		if body == "" && method != http.MethodGet && method != http.MethodDelete {
			body = "{}"
		}
		if rl.public {
			continue
		}
		if code := w.call(t, "", method, path, body, nil); code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", route, code)
		}
		for _, who := range rl.denied {
			code := w.call(t, who, method, path, body, nil)
			if code/100 == 2 {
				t.Errorf("%s as %s: %d, want a refusal (403 or 404)", route, who, code)
			} else if code != http.StatusForbidden && code != http.StatusNotFound {
				t.Errorf("%s as %s: %d, want 403 or 404", route, who, code)
			}
		}
	}
}
