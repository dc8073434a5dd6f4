package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Store is what the service needs of the SQL store (sqlstore.Store).
type Store interface {
	// Visits returns up to limit visits of the municipality whose resolve event comes
	// after the event id after and, when since is not zero, at or after since; in event
	// order.
	Visits(ctx context.Context, m vagt.MunicipalityCode, after int64, since time.Time, limit int) ([]Visit, error)
	// LastEventID is the newest event in the log (0: none).
	LastEventID(ctx context.Context) (int64, error)
	// AuditVisitsRead records in one transaction that actor read the visits: one entry
	// per citizen, object "citizen/<id>", naming the alerts.
	AuditVisitsRead(ctx context.Context, actor, action string, vs []Visit, now time.Time) error
}

// Paging limits.
const (
	DefaultCount = 50
	MaxCount     = 200
	// MaxExport bounds one export file; past it the export says where to go on.
	MaxExport = 10000
)

// Config configures a Service.
type Config struct {
	Store Store
	// Now is the platform's clock (a cursor or _since after it is refused); nil: time.Now.
	Now func() time.Time
	// Organisation names the municipality that keeps the record; nil:
	// MunicipalityOrganisation.
	Organisation Organisation
}

// Service builds the pull API's pages and the export files.
type Service struct{ c Config }

// NewService returns the service.
func NewService(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Organisation == nil {
		c.Organisation = MunicipalityOrganisation
	}
	return &Service{c: c}
}

// Caller is who pulls: a care-record system's token (staff of the whole municipality) or
// an admin (All: any municipality, named in the query).
type Caller struct {
	Actor        string
	Municipality vagt.MunicipalityCode
	All          bool
}

// Query is a pull's parameters as the client sent them.
type Query struct {
	Municipality string // "municipality": empty is the caller's own
	Cursor       string // "cursor": where the previous page ended
	Since        string // "_since": the first pull, from a time (FHIR instant, with zone)
	Count        string // "_count": visits per page, 1-200 (default 50)
	// Base is the absolute URL of the endpoint, for the page's links.
	Base string
}

// position is a checked query: whose visits, from where, how many.
type position struct {
	m     vagt.MunicipalityCode
	after int64
	since time.Time
	count int
}

// check reads q for c: 400 for what cannot be read or points into the future, 403 for
// another municipality's scope or cursor.
func (s *Service) check(ctx context.Context, c Caller, q Query, defCount, maxCount int) (position, error) {
	var p position
	switch {
	case q.Municipality != "":
		n, err := strconv.ParseUint(q.Municipality, 10, 16)
		if err != nil || vagt.MunicipalityCode(n).Validate() != nil {
			return p, fmt.Errorf("%w: municipality %q is not a municipality code", api.ErrInvalid, clip(q.Municipality))
		}
		p.m = vagt.MunicipalityCode(n)
	case c.All:
		return p, fmt.Errorf("%w: name the municipality (municipality=<code>)", api.ErrInvalid)
	default:
		p.m = c.Municipality
	}
	if !c.All && p.m != c.Municipality {
		return p, fmt.Errorf("%w: municipality %d is not yours", api.ErrForbidden, p.m)
	}
	p.count = defCount
	if q.Count != "" {
		n, err := strconv.Atoi(q.Count)
		if err != nil || n < 1 || n > maxCount {
			return p, fmt.Errorf("%w: _count must be 1-%d", api.ErrInvalid, maxCount)
		}
		p.count = n
	}
	if q.Cursor != "" && q.Since != "" {
		return p, fmt.Errorf("%w: give cursor or _since, not both", api.ErrInvalid)
	}
	now := s.c.Now()
	if q.Since != "" {
		t, err := time.Parse(time.RFC3339Nano, q.Since)
		if err != nil {
			return p, fmt.Errorf("%w: _since must be an instant with a time zone (2026-11-23T03:12:00Z)", api.ErrInvalid)
		}
		if t.After(now) {
			return p, fmt.Errorf("%w: _since %s is in the future", api.ErrInvalid, q.Since)
		}
		p.since = t
	}
	if q.Cursor != "" {
		cur, err := ParseCursor(q.Cursor)
		if err != nil {
			return p, err
		}
		if cur.Municipality != p.m {
			return p, fmt.Errorf("%w: the cursor belongs to another municipality", api.ErrForbidden)
		}
		last, err := s.c.Store.LastEventID(ctx)
		if err != nil {
			return p, err
		}
		if cur.Event > last {
			// A cursor from a restored or other database: resuming from it would skip
			// whatever this log writes below it.
			return p, fmt.Errorf("%w: the cursor is ahead of this platform's log (from the future or another database): start again with _since", api.ErrInvalid)
		}
		p.after = cur.Event
	}
	return p, nil
}

// Pull returns one page of the caller's municipality's visits as a searchset Bundle: the
// Encounters match, their Procedures, Patients and Practitioners are included. The
// visits are audited (fhir.pull, per citizen) before the page is returned. An empty page
// means the caller is up to date; its next link is the one to call later.
func (s *Service) Pull(ctx context.Context, c Caller, q Query) (*Bundle, error) {
	p, err := s.check(ctx, c, q, DefaultCount, MaxCount)
	if err != nil {
		return nil, err
	}
	vs, err := s.c.Store.Visits(ctx, p.m, p.after, p.since, p.count)
	if err != nil {
		return nil, err
	}
	if len(vs) > 0 {
		if err := s.c.Store.AuditVisitsRead(ctx, c.Actor, "fhir.pull", vs, s.c.Now()); err != nil {
			return nil, err
		}
	}
	b := &Bundle{ResourceType: resourceBundle, Type: bundleTypeSearchset, Entry: entries(vs, s.c.Organisation, true, fullURL)}
	b.Link = append(b.Link, BundleLink{Relation: "self", URL: pageURL(q.Base, q)})
	next := q
	if len(vs) > 0 {
		next.Since = ""
		next.Cursor = Cursor{Municipality: p.m, Event: vs[len(vs)-1].Event}.String()
	}
	b.Link = append(b.Link, BundleLink{Relation: "next", URL: pageURL(q.Base, next)})
	return b, nil
}

func pageURL(base string, q Query) string {
	v := url.Values{}
	if q.Municipality != "" {
		v.Set("municipality", q.Municipality)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Since != "" {
		v.Set("_since", q.Since)
	}
	if q.Count != "" {
		v.Set("_count", q.Count)
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// Export is a file of visits: everything after a cursor or since a time, at most
// MaxExport visits.
type Export struct {
	Visits []Visit
	// Next is where a following export starts: after the last visit in this one (or the
	// request's own position when it is empty). More says the file stopped at MaxExport.
	Next Cursor
	More bool
	At   time.Time
	org  Organisation
}

// Export reads the visits of an export (q.Count is ignored) and audits them (fhir.export,
// per citizen) before the caller writes any of it.
func (s *Service) Export(ctx context.Context, c Caller, q Query) (*Export, error) {
	p, err := s.check(ctx, c, Query{Municipality: q.Municipality, Cursor: q.Cursor, Since: q.Since}, MaxExport, MaxExport)
	if err != nil {
		return nil, err
	}
	e := &Export{Next: Cursor{Municipality: p.m, Event: p.after}, At: s.c.Now(), org: s.c.Organisation}
	const page = 500
	for len(e.Visits) < MaxExport {
		n := min(page, MaxExport-len(e.Visits))
		vs, err := s.c.Store.Visits(ctx, p.m, e.Next.Event, p.since, n)
		if err != nil {
			return nil, err
		}
		e.Visits = append(e.Visits, vs...)
		if len(vs) > 0 {
			e.Next.Event = vs[len(vs)-1].Event
		}
		if len(vs) < n {
			break
		}
	}
	e.More = len(e.Visits) == MaxExport
	if len(e.Visits) > 0 {
		if err := s.c.Store.AuditVisitsRead(ctx, c.Actor, "fhir.export", e.Visits, e.At); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// WriteNDJSON writes the export as FHIR NDJSON (as FHIR Bulk Data does): one resource per
// line, each Patient and Practitioner once, referencing each other as "Type/id".
func (e *Export) WriteNDJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, en := range entries(e.Visits, e.org, false, relativeRef) {
		if err := enc.Encode(en.Resource); err != nil {
			return err
		}
	}
	return nil
}

// Bundle is the export as one Bundle of type collection, stamped with when it was made
// (KL's delivery report has the same shape).
func (e *Export) Bundle() *Bundle {
	return &Bundle{ResourceType: resourceBundle, Type: bundleTypeCollection, Timestamp: dateTime(e.At),
		Entry: entries(e.Visits, e.org, false, fullURL)}
}
