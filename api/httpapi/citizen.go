package httpapi

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/stats"
)

// TelemetryStore reads a citizen's telemetry and deletes it on erasure (influx.Telemetry).
type TelemetryStore interface {
	Readings(ctx context.Context, gws []vagt.GatewayID, from, to time.Time) ([]registry.Reading, error)
	DeleteGateways(ctx context.Context, gws []vagt.GatewayID) error
}

// CitizenData is a citizen's own data: whose login is which citizen, the export of
// everything held about them and the gateways whose telemetry goes with it, and erasure.
type CitizenData interface {
	CitizenOfUser(ctx context.Context, userID int64) (int64, error)
	CitizenGateways(ctx context.Context, scope api.Scope, citizen int64) ([]vagt.GatewayID, error)
	CitizenExport(ctx context.Context, scope api.Scope, citizen int64, actor string, now time.Time) (registry.Export, error)
	EraseCitizen(ctx context.Context, scope api.Scope, citizen int64, actor string, now time.Time) (registry.Erasure, error)
}

// MaxExportPeriod bounds the telemetry a citizen's export reads per request.
const MaxExportPeriod = 31 * 24 * time.Hour

// myData is GET /me/data: everything held about the calling citizen, as JSON or a zip of
// CSVs. The login names the citizen (CitizenOfUser); the registry service decides the
// citizen's own scope (api.Principal.OwnScope) in the reads.
func (s *server) myData() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.CitizenData)
		if err != nil {
			return err
		}
		if p.Role != api.RoleCitizen {
			return api.ErrNotCitizen // before the period: other roles learn nothing of the request
		}
		from, to, err := stats.ParseBounded(r.URL.Query().Get("from"), r.URL.Query().Get("to"), MaxExportPeriod)
		if err != nil {
			return err
		}
		id, err := reg.CitizenOfUser(r.Context(), p.UserID) // no citizen's login: ErrForbidden
		if err != nil {
			return err
		}
		scope, err := p.OwnScope(id)
		if err != nil {
			return err
		}
		if s.Telemetry == nil {
			return api.ErrNoTelemetry
		}
		x, err := reg.CitizenExport(r.Context(), scope, id, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		gws, err := reg.CitizenGateways(r.Context(), scope, id)
		if err != nil {
			return err
		}
		if x.Telemetry, err = s.Telemetry.Readings(r.Context(), gws, from, to); err != nil {
			return err
		}
		if accepts(r, "application/zip") {
			w.Header().Set("Content-Type", "application/zip")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="vagt-citizen-%d.zip"`, id))
			w.Header().Set("Cache-Control", "no-store")
			return writeExportZip(w, x)
		}
		writeJSON(w, http.StatusOK, x)
		return nil
	})
}

func tstr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// writeExportZip writes the export as citizen.csv, contacts.csv, homes.csv, devices.csv,
// alerts.csv, telemetry.csv, access_log.csv, night_checks.csv and gps_positions.csv.
func writeExportZip(w http.ResponseWriter, x registry.Export) error {
	z := zip.NewWriter(w)
	file := func(name string, header []string, rows [][]string) error {
		f, err := z.Create(name)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(f)
		_ = cw.Write(header)
		_ = cw.WriteAll(rows)
		return cw.Error()
	}
	c := x.Citizen
	var contacts, homes, devices, als, tel, log, nights [][]string
	for _, n := range x.NightChecks {
		nights = append(nights, []string{string(n.Home), tstr(&n.DueAt), tstr(&n.CheckedAt), n.By, n.Decision, n.Grade,
			strconv.FormatBool(n.Missed), string(n.State), n.Note})
	}
	for _, ct := range c.Contacts {
		contacts = append(contacts, []string{ct.Name, ct.Phone, ct.Relation})
	}
	for _, h := range x.Homes {
		homes = append(homes, []string{string(h.ID), strconv.FormatInt(h.District, 10), strconv.Itoa(int(h.Municipality))})
	}
	for _, d := range x.Devices {
		devices = append(devices, []string{string(d.ID), string(d.Gateway), d.Technology.String(), d.Label, string(d.State), tstr(d.InstalledAt), tstr(d.RemovedAt), tstr(d.LastSeen)})
	}
	for _, a := range x.Alerts {
		als = append(als, []string{strconv.FormatInt(a.ID, 10), a.Type.String(), string(a.Device), tstr(&a.RaisedAt), tstr(a.AckedAt), tstr(a.ArrivedAt), tstr(a.ResolvedAt), string(a.Outcome)})
	}
	for _, t := range x.Telemetry {
		tel = append(tel, []string{tstr(&t.Time), string(t.Gateway), string(t.Device), t.Kind, strconv.FormatFloat(t.Value, 'f', -1, 64)})
	}
	for _, e := range x.AccessLog {
		log = append(log, []string{tstr(&e.At), e.Actor, e.Action, e.Object, e.Detail})
	}
	var positions [][]string
	for _, p := range x.Positions {
		positions = append(positions, []string{p.Tracker, tstr(&p.At), strconv.FormatFloat(p.Lat, 'f', 6, 64), strconv.FormatFloat(p.Lon, 'f', 6, 64), strconv.FormatFloat(p.Acc, 'f', 0, 64)})
	}
	reg := c.RegisteredAt
	for _, f := range []struct {
		name   string
		header []string
		rows   [][]string
	}{
		{"citizen.csv", []string{"id", "municipality", "name", "address", "key_box_note", "registered_at"},
			[][]string{{strconv.FormatInt(c.ID, 10), strconv.Itoa(int(c.Municipality)), c.Name, c.Address, c.KeyBoxNote, tstr(&reg)}}},
		{"contacts.csv", []string{"name", "phone", "relation"}, contacts},
		{"homes.csv", []string{"id", "district", "municipality"}, homes},
		{"devices.csv", []string{"id", "gateway", "technology", "label", "state", "installed_at", "removed_at", "last_seen"}, devices},
		{"alerts.csv", []string{"id", "type", "device", "raised_at", "acked_at", "arrived_at", "resolved_at", "outcome"}, als},
		{"telemetry.csv", []string{"time", "gateway", "device", "kind", "value"}, tel},
		{"access_log.csv", []string{"at", "actor", "action", "object", "detail"}, log},
		{"night_checks.csv", []string{"home", "due_at", "checked_at", "by", "decision", "grade", "missed", "state", "note"}, nights},
		{"gps_positions.csv", []string{"tracker", "at", "lat", "lon", "acc_m"}, positions},
	} {
		if err := file(f.name, f.header, f.rows); err != nil {
			return err
		}
	}
	return z.Close()
}

// eraseCitizen is DELETE /citizens/{id} (admins: api.Principal.ErasureScope): the
// telemetry goes first, so a failure there leaves the registry as it was and the erasure
// can be repeated. The registry service decides the scope before the telemetry's gateways
// are named, and again in the erasure's transaction.
func (s *server) eraseCitizen() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.CitizenData)
		if err != nil {
			return err
		}
		scope, err := p.ErasureScope()
		if err != nil {
			return err
		}
		id, err := citizenID(r)
		if err != nil {
			return err
		}
		gws, err := reg.CitizenGateways(r.Context(), scope, id)
		if err != nil {
			return err
		}
		if s.Telemetry == nil {
			return api.ErrNoTelemetry
		}
		if err := s.Telemetry.DeleteGateways(r.Context(), gws); err != nil {
			return err
		}
		e, err := reg.EraseCitizen(r.Context(), scope, id, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		e.Gateways, e.TelemetryDeleted = gws, true
		writeJSON(w, http.StatusOK, e)
		return nil
	})
}
