package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/httpapi"
)

// TestOpenAPIDescribesEveryRoute: every route the router serves has its path and method in
// api/openapi.yaml.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := httpapi.NewHandler(httpapi.Config{Feed: alerts.NewFeed(nil, alerts.FeedOptions{}), Gatherer: prometheus.NewRegistry(), OpenAPI: api.OpenAPI})
	routes, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("the handler is a %T, not a chi router", h)
	}
	doc := string(api.OpenAPI)
	n := 0
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		n++
		i := strings.Index(doc, "\n  "+route+":\n")
		if i < 0 {
			t.Errorf("%s %s is not in openapi.yaml", method, route)
			return nil
		}
		section := doc[i+1:]
		if j := strings.Index(section[3:], "\n  /"); j >= 0 {
			section = section[:j+3]
		}
		if !strings.Contains(section, "\n    "+strings.ToLower(method)+":") {
			t.Errorf("%s %s: the method is not described", method, route)
		}
		return nil
	})
	if err != nil || n < 13 {
		t.Fatalf("walked %d routes: %v", n, err)
	}
}
