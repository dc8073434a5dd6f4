package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// revokingGrants is the real store, with a citizen revoking a grant right after the
// relative's view has read the grants and before it reads the citizen's page.
type revokingGrants struct {
	*sqlstore.RegistryService
	revoke func(ctx context.Context)
}

func (g revokingGrants) GrantsOfRelative(ctx context.Context, relativeUser string, now time.Time) ([]registry.RelativeGrant, error) {
	gs, err := g.RegistryService.GrantsOfRelative(ctx, relativeUser, now)
	if err == nil && g.revoke != nil {
		g.revoke(ctx)
	}
	return gs, err
}

// TestRelativeViewGrantRevokedMeanwhile: a grant revoked between the relative's view
// reading the grants and reading the citizen's page shows nothing (the registry service
// decides in the relative's scope, at the read): the other citizen's grant still shows,
// and with none left the relative is refused (403). Nothing of the revoked grant's citizen
// is read or audited for the relative after the revocation.
func TestRelativeViewGrantRevokedMeanwhile(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := api.NewManualClock(time.Now())
	now := clock.Now()
	all := api.Scope{All: true}
	karen, err := store.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen", Contacts: []api.Contact{{Name: "Peter Jensen", Relation: "søn"}}})
	if err != nil {
		t.Fatal(err)
	}
	svend, err := store.CreateCitizen(ctx, 766, api.Citizen{Name: "Svend Jensen", Contacts: []api.Contact{{Name: "Peter Jensen", Relation: "søn"}}})
	if err != nil {
		t.Fatal(err)
	}
	const rel = "relative-peter"
	grant := func(citizen int64) registry.RelativeGrant {
		g, err := store.GrantRelative(ctx, all, registry.NewGrant{Citizen: citizen, RelativeName: "Peter Jensen", IDHash: "hash-peter", RelativeUser: rel,
			Parts: []string{registry.PartAlarms}, From: now, Until: now.Add(24 * time.Hour), GrantedBy: "citizen", Consent: "citizen"}, now)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	gk, gs := grant(karen), grant(svend)
	tok, hash, _ := auth.NewToken()
	if _, err := store.IssueRelativeSession(ctx, rel, hash, now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}

	grants := revokingGrants{RegistryService: store.RegistryService}
	revoke := func(citizen, g int64) func(context.Context) {
		return func(ctx context.Context) {
			if _, err := store.RevokeGrant(ctx, api.Scope{Citizen: citizen}, citizen, g, "citizen", clock.Now()); err != nil {
				t.Errorf("revoke: %v", err)
			}
		}
	}
	var handler http.Handler
	cfg := func() http.Handler {
		return httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}), Registry: registryOf(store),
			Citizens: httpapi.CitizenPortal{Pages: store, Grants: grants, Logins: store}, Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	view := func(want int) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/relative/view", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("relative view: %d, want %d\n%s", resp.StatusCode, want, body)
		}
		return string(body)
	}

	// Karen revokes while the view runs: only Svend shows.
	grants.revoke = revoke(karen, gk.ID)
	handler = cfg()
	var vs []httpapi.RelativeView
	if err := json.Unmarshal([]byte(view(http.StatusOK)), &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Grant != gs.ID || vs[0].Citizen != "Svend Jensen" {
		t.Errorf("the view with Karen's grant revoked meanwhile: %+v, want Svend's only", vs)
	}
	// Svend revokes his too while the next view runs: nothing is left.
	grants.revoke = revoke(svend, gs.ID)
	handler = cfg()
	if out := view(http.StatusForbidden); !strings.Contains(out, "revoked") {
		t.Errorf("the view with the last grant revoked meanwhile: %s", out)
	}

	log, err := store.AuditLog(ctx, all, "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	views := map[string]int{}
	for _, e := range log {
		if e.Actor == rel && e.Action == "citizen.view" {
			views[e.Object]++
		}
	}
	if views[fmt.Sprintf("citizen/%d", karen)] != 0 || views[fmt.Sprintf("citizen/%d", svend)] != 1 {
		t.Errorf("the relative's citizen.view rows by citizen: %v, want Svend's one view only", views)
	}
}
