package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/registry"
)

// CitizenPortal is what the citizen page, relatives' access and the national login need,
// by area (api/sqlstore, relatives.go); the portal is offered when every area is set.
type CitizenPortal struct {
	Pages  CitizenPages   // the citizen's own page, the relative's view
	Grants RelativeAccess // relatives' grants
	Logins NationalLogins // the identities the national login names citizens by, and sessions (citizen_signin.go)
}

// CitizenPages is the citizen's own page: whose login is which citizen, the page, the
// homes' care plans and the request for erasure.
type CitizenPages interface {
	CitizenOfUser(ctx context.Context, userID int64) (int64, error)
	CitizenView(ctx context.Context, scope api.Scope, citizen int64, actor, detail string, now time.Time) (registry.CitizenView, error)
	CitizenCarePlans(ctx context.Context, scope api.Scope, citizen int64) ([]registry.CitizenCarePlan, error)
	RequestErasure(ctx context.Context, scope api.Scope, citizen int64, actor string, now time.Time) (time.Time, error)
}

// RelativeAccess is relatives' grants: given, listed, revoked, and those a relative holds.
type RelativeAccess interface {
	GrantRelative(ctx context.Context, scope api.Scope, g registry.NewGrant, now time.Time) (registry.RelativeGrant, error)
	RelativeGrants(ctx context.Context, scope api.Scope, citizen int64) ([]registry.RelativeGrant, error)
	GrantsOfRelative(ctx context.Context, relativeUser string, now time.Time) ([]registry.RelativeGrant, error)
	RevokeGrant(ctx context.Context, scope api.Scope, citizen, grant int64, actor string, now time.Time) (registry.RelativeGrant, error)
}

// NationalLogins records the identity the national login names a citizen by, and issues
// the sessions of citizens and relatives who signed in with it.
type NationalLogins interface {
	SetCitizenIdentity(ctx context.Context, scope api.Scope, citizen int64, idHash, actor string, now time.Time) error
	IssueCitizenSession(ctx context.Context, citizen int64, hash string, expires, now time.Time) (api.Principal, error)
	IssueRelativeSession(ctx context.Context, relativeUser, hash string, expires, now time.Time) (api.Principal, error)
}

func (c CitizenPortal) configured() bool { return c.Pages != nil && c.Grants != nil && c.Logins != nil }

var errNoPortal = fmt.Errorf("%w: the citizen page is not configured", api.ErrUnavailable)

// myCitizen returns the calling citizen's id and the citizen's own scope
// (api.Principal.OwnScope), in which the service decides each read and change: only the
// citizen's own login has one.
func (s *server) myCitizen(r *http.Request, p *api.Principal) (int64, api.Scope, error) {
	if !s.Citizens.configured() {
		return 0, api.Scope{}, errNoPortal
	}
	if p.Role != api.RoleCitizen {
		return 0, api.Scope{}, fmt.Errorf("%w: this is the citizen's own page", api.ErrForbidden)
	}
	id, err := s.Citizens.Pages.CitizenOfUser(r.Context(), p.UserID)
	if err != nil {
		return 0, api.Scope{}, err
	}
	scope, err := p.OwnScope(id)
	return id, scope, err
}

// CitizenPage is GET /api/v1/me/overview: the citizen page's content.
type CitizenPage struct {
	registry.CitizenView
	// CarePlans are the homes' care plans; the page words them ("the home watches the
	// front door at night 22:00-07:00").
	CarePlans []registry.CitizenCarePlan `json:"care_plans"`
	Relatives []registry.RelativeGrant   `json:"relatives"`
}

func (s *server) myOverview() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		id, scope, err := s.myCitizen(r, p)
		if err != nil {
			return err
		}
		now := s.Clock.Now()
		v, err := s.Citizens.Pages.CitizenView(r.Context(), scope, id, p.Name, "the citizen's own page", now)
		if err != nil {
			return err
		}
		page := CitizenPage{CitizenView: v}
		if page.CarePlans, err = s.Citizens.Pages.CitizenCarePlans(r.Context(), scope, id); err != nil {
			return err
		}
		if page.Relatives, err = s.Citizens.Grants.RelativeGrants(r.Context(), scope, id); err != nil {
			return err
		}
		live(page.Relatives, now)
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, page)
		return nil
	})
}

// myErasure is POST /api/v1/me/erasure: the citizen asks for erasure (GDPR art. 17);
// refused (409) with the reason while an alarm of theirs is open.
func (s *server) myErasure() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		id, scope, err := s.myCitizen(r, p)
		if err != nil {
			return err
		}
		at, err := s.Citizens.Pages.RequestErasure(r.Context(), scope, id, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"requested_at": at, "citizen": id})
		return nil
	})
}

// grantRequest is the body of a grant: the relative's name as on the citizen's record,
// their national identity (hashed at once, never stored), the parts and the period.
type grantRequest struct {
	RelativeName string    `json:"relative_name"`
	Identity     string    `json:"identity"`
	Parts        []string  `json:"parts"`
	From         time.Time `json:"from"`
	Until        time.Time `json:"until"`
	// Consent is staff's note of how the citizen consented (granting on the citizen's
	// behalf); the citizen's own grant records "citizen".
	Consent string `json:"consent"`
}

func (s *server) newGrant(r *http.Request, citizen int64, actor string, byCitizen bool) (registry.NewGrant, error) {
	var req grantRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<14))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return registry.NewGrant{}, fmt.Errorf("%w: body: %w", api.ErrInvalid, err)
	}
	if len(s.IdentityKey) == 0 {
		return registry.NewGrant{}, fmt.Errorf("%w: no identity key is configured", api.ErrUnavailable)
	}
	if strings.TrimSpace(req.Identity) == "" {
		return registry.NewGrant{}, fmt.Errorf("%w: identity: the relative's CPR number or login id is needed", api.ErrInvalid)
	}
	consent := "citizen"
	if !byCitizen {
		consent = strings.TrimSpace(req.Consent)
		if consent == "" {
			return registry.NewGrant{}, fmt.Errorf("%w: consent: note how the citizen consented (staff grant on the citizen's documented consent)", api.ErrInvalid)
		}
	}
	if req.From.IsZero() {
		req.From = s.Clock.Now()
	}
	h := s.IdentityKey.Hash(req.Identity)
	return registry.NewGrant{Citizen: citizen, RelativeName: req.RelativeName, IDHash: h, RelativeUser: auth.RelativeUser(h),
		Parts: req.Parts, From: req.From, Until: req.Until, GrantedBy: actor, Consent: consent}, nil
}

// myRelatives is GET and POST /api/v1/me/relatives: the citizen's grants; a new one.
func (s *server) myRelatives() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		id, scope, err := s.myCitizen(r, p)
		if err != nil {
			return err
		}
		if r.Method == http.MethodGet {
			gs, err := s.Citizens.Grants.RelativeGrants(r.Context(), scope, id)
			if err != nil {
				return err
			}
			live(gs, s.Clock.Now())
			writeJSON(w, http.StatusOK, gs)
			return nil
		}
		g, err := s.newGrant(r, id, p.Name, true)
		if err != nil {
			return err
		}
		out, err := s.Citizens.Grants.GrantRelative(r.Context(), scope, g, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, out)
		return nil
	})
}

// live marks the grants that let their relative in at now.
func live(gs []registry.RelativeGrant, now time.Time) {
	for i := range gs {
		gs[i].Live = gs[i].Active(now)
	}
}

func grantID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "grant"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: grant %q", api.ErrNotFound, chi.URLParam(r, "grant"))
	}
	return id, nil
}

// myRevoke is DELETE /api/v1/me/relatives/{grant}: ends a grant at once.
func (s *server) myRevoke() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		id, scope, err := s.myCitizen(r, p)
		if err != nil {
			return err
		}
		g, err := grantID(r)
		if err != nil {
			return err
		}
		out, err := s.Citizens.Grants.RevokeGrant(r.Context(), scope, id, g, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// citizenRelatives is POST /api/v1/citizens/{id}/relatives (managers, admins): a grant on
// the citizen's documented consent; DELETE .../relatives/{grant} revokes one. The service
// decides the citizen against the caller's registry scope (api.Principal.RegistryScope).
func (s *server) citizenRelatives() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		if !s.Citizens.configured() {
			return errNoPortal
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		id, err := citizenID(r)
		if err != nil {
			return err
		}
		now := s.Clock.Now()
		if r.Method == http.MethodDelete {
			g, err := grantID(r)
			if err != nil {
				return err
			}
			out, err := s.Citizens.Grants.RevokeGrant(r.Context(), scope, id, g, p.Name, now)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}
		g, err := s.newGrant(r, id, p.Name, false)
		if err != nil {
			return err
		}
		out, err := s.Citizens.Grants.GrantRelative(r.Context(), scope, g, now)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, out)
		return nil
	})
}

// citizenIdentity is PUT /api/v1/citizens/{id}/identity (managers, admins): records the
// identity the national login names the citizen by, as a keyed hash only. The service
// decides the citizen against the caller's registry scope.
func (s *server) citizenIdentity() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		if !s.Citizens.configured() {
			return errNoPortal
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		id, err := citizenID(r)
		if err != nil {
			return err
		}
		if len(s.IdentityKey) == 0 {
			return fmt.Errorf("%w: no identity key is configured", api.ErrUnavailable)
		}
		var req struct {
			Identity string `json:"identity"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<12)).Decode(&req); err != nil || strings.TrimSpace(req.Identity) == "" {
			return fmt.Errorf("%w: body: {\"identity\": \"<CPR number or login id>\"}", api.ErrInvalid)
		}
		if err := s.Citizens.Logins.SetCitizenIdentity(r.Context(), scope, id, s.IdentityKey.Hash(req.Identity), p.Name, s.Clock.Now()); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// RelativeView is one citizen as a relative sees them: only the granted parts.
type RelativeView struct {
	Grant   int64                   `json:"grant"`
	Citizen string                  `json:"citizen"`
	Parts   []string                `json:"parts"`
	Until   time.Time               `json:"until"`
	Devices []registry.Device       `json:"devices,omitempty"`
	Alerts  []registry.CitizenAlert `json:"alerts,omitempty"`
}

// errNoGrant is a relative whom no citizen's grant lets in (any more).
var errNoGrant = fmt.Errorf("%w: no citizen's grant lets you in any more (it was revoked or has ended)", api.ErrForbidden)

// relativeView is GET /api/v1/relative/view: what the relative's active grants show. The
// grants are read at every request, and the registry service reads them again in the
// relative's scope (api.Principal.RelativeScope) when it reads each citizen's page, so a
// grant revoked or ended meanwhile shows nothing; with none left the answer is 403.
// Each use is in the citizen's access log (citizen.view by the relative, naming the grant).
func (s *server) relativeView() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		if !s.Citizens.configured() {
			return errNoPortal
		}
		scope, err := p.RelativeScope()
		if err != nil {
			return err
		}
		now := s.Clock.Now()
		gs, err := s.Citizens.Grants.GrantsOfRelative(r.Context(), p.Name, now)
		if err != nil {
			return err
		}
		out := []RelativeView{}
		for _, g := range gs {
			v, err := s.Citizens.Pages.CitizenView(r.Context(), scope, g.Citizen, p.Name, fmt.Sprintf("relative %s, grant/%d (%s)", g.RelativeName, g.ID, strings.Join(g.Parts, ", ")), now)
			if errors.Is(err, api.ErrOutOfScope) {
				continue // the grant ended since it was read: it shows nothing
			} else if err != nil {
				return err
			}
			rv := RelativeView{Grant: g.ID, Citizen: v.Name, Parts: g.Parts, Until: g.Until}
			if g.Has(registry.PartDevices) {
				rv.Devices = v.Devices
			}
			if g.Has(registry.PartAlarms) {
				rv.Alerts = v.Alerts
			}
			out = append(out, rv)
		}
		if len(out) == 0 {
			return errNoGrant
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}
