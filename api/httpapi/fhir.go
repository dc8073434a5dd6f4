package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/fhir"
)

// FHIRService hands resolved visits to care-record systems (fhir.Service).
type FHIRService interface {
	Pull(ctx context.Context, c fhir.Caller, q fhir.Query) (*fhir.Bundle, error)
	Export(ctx context.Context, c fhir.Caller, q fhir.Query) (*fhir.Export, error)
}

var _ FHIRService = (*fhir.Service)(nil)

// FHIR content types.
const (
	contentFHIR       = "application/fhir+json; fhirVersion=4.0"
	contentFHIRNDJSON = "application/fhir+ndjson"
)

// fhirCaller decides who may pull visits: a care-record system's token, which is staff of
// the whole municipality (no districts: the record is the municipality's), or an admin
// naming the municipality. Staff of some districts, managers (no personal data),
// national users and citizens may not.
func fhirCaller(p *api.Principal) (fhir.Caller, error) {
	switch {
	case p.Role == api.RoleAdmin:
		return fhir.Caller{Actor: p.Name, All: true}, nil
	case p.Role == api.RoleStaff && len(p.Districts) == 0:
		return fhir.Caller{Actor: p.Name, Municipality: p.Municipality}, nil
	}
	return fhir.Caller{}, fmt.Errorf("%w: the FHIR pull needs a staff token for the whole municipality (the care-record system's) or an admin", api.ErrForbidden)
}

func (s *server) fhirService() (FHIRService, error) {
	if s.FHIR == nil {
		return nil, fmt.Errorf("%w: the FHIR pull is not configured", api.ErrUnavailable)
	}
	return s.FHIR, nil
}

// fhirQuery reads a pull's parameters; the links of the page start at base.
func fhirQuery(r *http.Request) fhir.Query {
	v := r.URL.Query()
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	base := (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path}).String()
	return fhir.Query{Municipality: v.Get("municipality"), Cursor: v.Get("cursor"), Since: v.Get("_since"), Count: v.Get("_count"), Base: base}
}

// fhirPull serves GET /api/v1/fhir/Encounter: one page of visits (docs/fhir.md).
func (s *server) fhirPull() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		svc, err := s.fhirService()
		if err != nil {
			return err
		}
		c, err := fhirCaller(p)
		if err != nil {
			return err
		}
		b, err := svc.Pull(r.Context(), c, fhirQuery(r))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", contentFHIR)
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(b) // the status is sent: a failed write is the client gone
		return nil
	})
}

// fhirExport serves GET /api/v1/fhir/export: a file of visits, NDJSON by default or one
// Bundle with _outputFormat=application/fhir+json. The Link header names where the next
// export starts.
func (s *server) fhirExport() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		svc, err := s.fhirService()
		if err != nil {
			return err
		}
		c, err := fhirCaller(p)
		if err != nil {
			return err
		}
		format := r.URL.Query().Get("_outputFormat")
		switch format {
		case "", "ndjson", "application/ndjson", contentFHIRNDJSON:
			format = contentFHIRNDJSON
		case "application/fhir+json", "json":
			format = "application/fhir+json"
		default:
			return fmt.Errorf("%w: _outputFormat is application/fhir+ndjson or application/fhir+json", api.ErrInvalid)
		}
		q := fhirQuery(r)
		e, err := svc.Export(r.Context(), c, q)
		if err != nil {
			return err
		}
		v := url.Values{"cursor": {e.Next.String()}, "_outputFormat": {format}}
		if q.Municipality != "" {
			v.Set("municipality", q.Municipality)
		}
		nextURL := q.Base + "?" + v.Encode()
		rel := "next"
		if !e.More {
			rel = "next-export" // nothing more now; where the next export starts later
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="%s"`, nextURL, rel))
		ext := "ndjson"
		if format != contentFHIRNDJSON {
			ext = "json"
		}
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="vagt-visits-%d-%s.%s"`, e.Next.Municipality, e.At.UTC().Format("20060102T150405Z"), ext))
		w.Header().Set("Content-Type", format)
		w.WriteHeader(http.StatusOK)
		// The status is sent: a failed write below is the client gone.
		if format == contentFHIRNDJSON {
			_ = e.WriteNDJSON(w)
		} else {
			_ = json.NewEncoder(w).Encode(e.Bundle())
		}
		return nil
	})
}
