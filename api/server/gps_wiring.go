package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// GPS trackers (api/gps, docs/gps.md): the service over the store, the OwnTracks consumer
// on the platform broker, and what the HTTP side needs of both.

// gpsStore adapts the SQL store to gps.Store.
type gpsStore struct{ *sqlstore.GPSService }

func (g gpsStore) RecordPosition(ctx context.Context, p gps.Position, now time.Time, decide func(*gps.TrackerState) []gps.Alarm) (int, error) {
	res, err := g.GPSService.RecordPosition(ctx, p, now, decide)
	return len(res), err
}

// gpsHTTP is the GPS service and store as httpapi.GPSService.
type gpsHTTP struct {
	*gps.Service
	store *sqlstore.GPSService
}

func (g gpsHTTP) TrackerByKey(ctx context.Context, h string) (string, error) {
	return g.store.TrackerByKey(ctx, h)
}

func (g gpsHTTP) CreateTracker(ctx context.Context, scope api.Scope, id string, home vagt.HomeID, keyHash, actor string, now time.Time) error {
	return g.store.CreateTracker(ctx, scope, id, home, keyHash, actor, now)
}

func (g gpsHTTP) SetSafeZones(ctx context.Context, scope api.Scope, home vagt.HomeID, zones []gps.Zone, actor string, now time.Time) error {
	return g.store.SetSafeZones(ctx, scope, home, zones, actor, now)
}

func (g gpsHTTP) SafeZones(ctx context.Context, scope api.Scope, home vagt.HomeID) ([]gps.Zone, error) {
	return g.store.SafeZones(ctx, scope, home)
}

func (g gpsHTTP) AlertTrack(ctx context.Context, scope api.Scope, id int64, limit int) (gps.Track, error) {
	return g.store.AlertTrack(ctx, scope, id, limit)
}

// newGPS makes the GPS service, and the OwnTracks consumer when there is a broker.
func newGPS(c Config, store *sqlstore.GPSService, clock api.Clock, d Deps, mq gps.MQTTOptions) (*gps.Service, *gps.OwnTracksConsumer) {
	svc := gps.NewService(gpsStore{store}, gps.Options{Limits: c.GPS, Clock: clock, Logger: d.Logger.With("component", "gps"),
		Registerer: d.Registry})
	if c.Broker == "" {
		return svc, nil
	}
	mq.ClientID = c.ClientID + "-gps"
	ot := gps.NewOwnTracksConsumer(svc, mq)
	d.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vagt_gps_subscribed",
		Help: "1 while the api is subscribed to the GPS trackers' OwnTracks topics."}, func() float64 {
		if ot.Connected() {
			return 1
		}
		return 0
	}))
	return svc, ot
}

// OwnTracksSubscribed reports whether the GPS trackers' topics are subscribed (false
// without a broker). It is not part of readiness: a broker that refuses them must not take
// the api, and the gateways' alarms it serves, out of service; vagt_gps_subscribed and an
// error in the log say so instead.
func (s *Server) OwnTracksSubscribed() bool { return s.owntracks != nil && s.owntracks.Connected() }

// GPS returns the GPS service (tests tick its loop by hand).
func (s *Server) GPS() *gps.Service { return s.gps }
