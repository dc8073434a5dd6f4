package httpapi_test

import (
	"bufio"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api/httpapi"
)

// endpointsDoc is the map of every route to the one service it calls and the one place its
// access is decided.
const endpointsDoc = "../../docs/endpoints.md"

// routes lists the router's routes as "METHOD /path", read from chi itself, with every
// optional route switched on (/metrics needs a gatherer and a token).
func routes(t *testing.T) []string {
	t.Helper()
	h := httpapi.NewHandler(httpapi.Config{Gatherer: prometheus.NewRegistry(), MetricsToken: "scrape"})
	r, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("NewHandler returns %T, not a chi router: read the routes another way", h)
	}
	var out []string
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// documented reads the table rows of docs/endpoints.md: | METHOD | `/path` | service | access |.
func documented(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(endpointsDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(strings.TrimSpace(sc.Text()), "|")
		if len(cells) < 3 || cells[0] != "" {
			continue
		}
		cells = cells[1 : len(cells)-1]
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch cells[0] {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue // the header, its rule, another table
		}
		key := cells[0] + " " + strings.Trim(cells[1], "`")
		if _, dup := rows[key]; dup {
			t.Errorf("%s: %s is in the table twice", endpointsDoc, key)
		}
		rows[key] = cells
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestEndpointMap: docs/endpoints.md has one row for every route of the router and none
// for a route that does not exist, and every row names the service it calls and where its
// access is decided in one of the three forms, so a newcomer finds both in one hop.
func TestEndpointMap(t *testing.T) {
	rows := documented(t)
	have := routes(t)
	if len(have) < 50 {
		t.Fatalf("chi.Walk found %d routes: %v; the walk is broken, not the table", len(have), have)
	}
	for _, route := range have {
		if _, ok := rows[route]; !ok {
			t.Errorf("%s is served but missing from %s: add its row (service, where access is decided)", route, endpointsDoc)
		}
	}
	for route, cells := range rows {
		if !slices.Contains(have, route) {
			t.Errorf("%s names %s, which the router does not serve: remove or correct the row", endpointsDoc, route)
			continue
		}
		if len(cells) != 4 || cells[2] == "" {
			t.Errorf("%s: %s: want | method | path | service it calls | where access is decided |, got %q", endpointsDoc, route, cells)
			continue
		}
		access := cells[3]
		if !strings.HasPrefix(access, "service (Scope)") && !strings.HasPrefix(access, "handler: ") && !strings.HasPrefix(access, "none: public") {
			t.Errorf("%s: %s: access %q: want \"service (Scope): …\", \"handler: …\" or \"none: public …\"", endpointsDoc, route, access)
		}
	}
}
