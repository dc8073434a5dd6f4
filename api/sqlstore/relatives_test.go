package sqlstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestCitizenAccess: the national login's identity hashes, citizen and relative sessions,
// grants (relatives on record only, revocable, ended, of an erased citizen), the erasure
// request refused while an alert is open, and the citizen's view — on both SQL stores.
func TestCitizenAccess(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx, now := t.Context(), t0
		d, err := s.CreateDistrict(ctx, 766, "Nord")
		must(t, err)
		karen, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen", KeyBoxNote: "4711", Contacts: []api.Contact{
			{Name: "Peter Jensen", Relation: "søn"}, {Name: "Ole Nabo", Relation: "nabo"}}})
		must(t, err)
		must(t, s.CreateHome(ctx, "home-k", d, karen))
		must(t, s.RegisterGateway(ctx, "gw-k", "home-k"))
		must(t, s.RegisterDevice(ctx, "pa-k", "gw-k", vagt.TechPersonalAlarm, "pendant"))
		r, err := s.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-k", Seq: 1, Municipality: 766, Time: now, Device: "pa-k", Type: vagt.AlarmPanic}, now)
		must(t, err)

		// Identities: one citizen per hash; two citizens with one hash are both found.
		must(t, s.SetCitizenIdentity(ctx, api.Scope{All: true}, karen, "hash-k", "mads", now))
		must(t, s.SetCitizenIdentity(ctx, api.Scope{All: true}, karen, "hash-k", "mads", now)) // again: no duplicate
		if m, err := s.CitizensByIdentity(ctx, "hash-k"); err != nil || len(m) != 1 || m[karen] != 766 {
			t.Fatalf("by identity: %v %v", m, err)
		}
		twin, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Tvilling"})
		must(t, err)
		must(t, s.SetCitizenIdentity(ctx, api.Scope{All: true}, twin, "hash-k", "mads", now))
		if m, _ := s.CitizensByIdentity(ctx, "hash-k"); len(m) != 2 {
			t.Errorf("two citizens with one identity: %v", m)
		}
		if err := s.SetCitizenIdentity(ctx, api.Scope{All: true}, 9999, "hash-x", "mads", now); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("unknown citizen: %v", err)
		}

		p, err := s.IssueCitizenSession(ctx, karen, "token-hash-k", now.Add(time.Hour), now)
		must(t, err)
		if got, err := s.Principal(ctx, "token-hash-k", now); err != nil || got.Role != api.RoleCitizen || got.IssuedBy != auth.NationalLoginIssuer {
			t.Fatalf("citizen session: %+v %v", got, err)
		}
		if id, err := s.CitizenOfUser(ctx, p.UserID); err != nil || id != karen {
			t.Errorf("the session's citizen: %d %v", id, err)
		}

		grant := func(name string, parts ...string) (registry.RelativeGrant, error) {
			return s.GrantRelative(ctx, api.Scope{All: true}, registry.NewGrant{Citizen: karen, RelativeName: name, IDHash: "hash-p", RelativeUser: "relative-p",
				Parts: parts, From: now, Until: now.Add(24 * time.Hour), GrantedBy: "citizen-1", Consent: "citizen"}, now)
		}
		for name, parts := range map[string][]string{"Ole Nabo": {"alarms"}, "Fremmed": {"alarms"}, "Peter Jensen": {"key_box"}} {
			if _, err := grant(name, parts...); !errors.Is(err, api.ErrInvalid) {
				t.Errorf("grant to %s of %v: %v, want invalid", name, parts, err)
			}
		}
		g, err := grant("peter jensen", registry.PartAlarms)
		must(t, err)
		if g.Relation != "søn" || g.RelativeName != "peter jensen" {
			t.Errorf("grant: %+v", g)
		}
		if _, err := s.IssueRelativeSession(ctx, "relative-nobody", "token-hash-x", now.Add(time.Hour), now); !errors.Is(err, api.ErrUnauthenticated) {
			t.Errorf("a relative without a grant: %v", err)
		}
		rp, err := s.IssueRelativeSession(ctx, "relative-p", "token-hash-p", now.Add(time.Hour), now)
		must(t, err)
		if got, err := s.Principal(ctx, "token-hash-p", now); err != nil || got.Role != api.RoleRelative || got.Name != rp.Name {
			t.Fatalf("relative session: %+v %v", got, err)
		}
		if gs, _ := s.GrantsOfRelative(ctx, "relative-p", now.Add(25*time.Hour)); len(gs) != 0 {
			t.Errorf("an ended grant still lets in: %+v", gs)
		}
		if _, err := s.RevokeGrant(ctx, api.Scope{All: true}, twin, g.ID, "citizen-2", now); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("another citizen's grant: %v", err)
		}
		if rg, err := s.RevokeGrant(ctx, api.Scope{All: true}, karen, g.ID, "citizen-1", now); err != nil || rg.RevokedAt == nil {
			t.Fatalf("revoke: %+v %v", rg, err)
		}
		if gs, _ := s.GrantsOfRelative(ctx, "relative-p", now); len(gs) != 0 {
			t.Errorf("a revoked grant still lets in: %+v", gs)
		}

		if _, err := s.RequestErasure(ctx, api.Scope{Citizen: karen}, karen, "citizen-1", now); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "still open") {
			t.Errorf("erasure with an open alert: %v", err)
		}
		_, err = s.Resolve(ctx, r.Alert.ID, "anna", api.Scope{All: true}, alerts.OutcomeVisitedAllWell, "", now.Add(time.Minute))
		must(t, err)
		if _, err := s.RequestErasure(ctx, api.Scope{Citizen: karen}, karen, "citizen-1", now.Add(2*time.Minute)); err != nil {
			t.Errorf("erasure request: %v", err)
		}

		v, err := s.CitizenView(ctx, api.Scope{Citizen: karen}, karen, "citizen-1", "own page", now.Add(3*time.Minute))
		must(t, err)
		var acts []string
		for _, e := range v.AccessLog {
			acts = append(acts, e.Action)
		}
		got := strings.Join(acts, " ")
		if len(v.Devices) != 1 || len(v.Alerts) != 1 || v.Alerts[0].Outcome != alerts.OutcomeVisitedAllWell || !strings.HasPrefix(got, "citizen.view erasure.request") ||
			!strings.Contains(got, "relative.revoke") || !strings.Contains(got, "relative.signin") || !strings.Contains(got, "relative.grant") ||
			!strings.Contains(got, "signin.national") || !strings.Contains(got, "citizen.identity") {
			t.Errorf("view: %d devices, %+v, log %s", len(v.Devices), v.Alerts, got)
		}
	})
}
