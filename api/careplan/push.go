package careplan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// enqueue asks the pusher to publish the gateway's configuration; it never blocks. A
// gateway already waiting is not queued twice: the publish reads the latest version.
func (s *Service) enqueue(gw vagt.GatewayID) {
	if !s.mark(gw) {
		return
	}
	select {
	case s.push <- gw:
	default:
		s.unmark(gw)
		// Full: the start-up sweep and the next status report catch up.
		s.log.Warn("push queue full; the gateway's next status brings it back", "gateway", gw)
	}
}

// mark notes that gw waits for a publish; false if it already did.
func (s *Service) mark(gw vagt.GatewayID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queued[gw] {
		return false
	}
	s.queued[gw] = true
	return true
}

func (s *Service) unmark(gw vagt.GatewayID) {
	s.mu.Lock()
	delete(s.queued, gw)
	s.mu.Unlock()
}

// Status takes what a gateway's status says about its configuration: the version it runs
// and why it refused one. A gateway that is online and runs an older version than its
// home's gets it again — at once if it was never published to it, else once Republish
// has passed since the last time (the broker may have lost the retained message, or the
// gateway refused a copy that was damaged on the way).
func (s *Service) Status(ctx context.Context, st *vagt.Status) error {
	if !st.Online {
		return nil // the will was written at connect time; it says nothing new
	}
	now := s.o.Clock.Now()
	c, err := s.store.GatewayConfig(ctx, st.Gateway)
	if err != nil {
		return err // RecordStatus created the row just before: the store is failing
	}
	if c.Applied != st.ConfigVersion || c.Refused != st.ConfigError || c.ReportedAt == nil {
		if err := s.store.RecordGatewayConfig(ctx, st.Gateway, st.ConfigVersion, st.ConfigError, now); err != nil {
			return err
		}
	}
	if c.Home != "" && c.Desired > 0 && st.ConfigVersion > c.Desired {
		return s.renumber(ctx, c, st.ConfigVersion)
	}
	if c.Home == "" || c.Desired == 0 || st.ConfigVersion >= c.Desired {
		return nil // not installed, no plan yet, or runs it
	}
	if c.Published < c.Desired || c.PublishedAt == nil || now.Sub(*c.PublishedAt) >= s.o.Republish {
		s.enqueue(st.Gateway)
	}
	return nil
}

// renumber saves the home's plan again above the version the gateway runs: it runs a
// higher one than the home's (it was moved from another home, or the database was
// restored from a backup) and would ignore the home's as older.
func (s *Service) renumber(ctx context.Context, c GatewayConfigState, running uint64) error {
	row, err := s.store.HomeConfig(ctx, c.Home)
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("renumbered: gateway %s runs version %d, above the home's %d", c.Gateway, running, row.Version)
	if _, err := s.store.SaveHomeConfig(ctx, c.Home, row.Version, running, api.System, detail, s.o.Clock.Now(),
		func(uint64) ([]byte, []byte, error) { return row.Settings, row.Effective, nil }); err != nil && !errors.Is(err, api.ErrConflict) {
		return err // a conflict: someone saved meanwhile; the next status looks again
	}
	s.log.Warn("care plan renumbered above the gateway's version", "home", c.Home, "gateway", c.Gateway, "running", running)
	s.enqueue(c.Gateway)
	return nil
}

// Run publishes what is queued until ctx is done: first every configuration that was
// saved and not yet published (a stop between the two), then each change and each
// republish that Status asks for. A failed publish is retried after Options.Retry.
func (s *Service) Run(ctx context.Context) error {
	if s.o.Publisher == nil {
		<-ctx.Done()
		return nil
	}
	var retries sync.WaitGroup
	defer retries.Wait()
	gws, err := s.store.ConfigsToPublish(ctx, 10000)
	if err != nil {
		s.log.Warn("start-up sweep failed; statuses bring the gateways back", "err", err)
	}
	for _, gw := range gws {
		s.enqueue(gw)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case gw := <-s.push:
			// Unmarked before reading the store: a change saved meanwhile queues it again.
			s.unmark(gw)
			if err := s.publish(ctx, gw); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if !s.mark(gw) {
					continue // queued again meanwhile: that publish retries it
				}
				s.log.Warn("config not published; retrying", "gateway", gw, "err", err)
				retries.Go(func() {
					select {
					case <-ctx.Done():
					case <-time.After(s.o.Retry):
						select {
						case s.push <- gw:
						case <-ctx.Done():
						}
					}
				})
			}
		}
	}
}

// publish sends the gateway its home's current configuration, retained, QoS 1.
func (s *Service) publish(ctx context.Context, gw vagt.GatewayID) error {
	g, err := s.store.Gateway(ctx, gw)
	if err != nil {
		return err
	}
	if g.Home == "" {
		return nil
	}
	f, err := s.store.HomeFacts(ctx, g.Home)
	if err != nil {
		return err
	}
	row, err := s.store.HomeConfig(ctx, g.Home)
	if err != nil {
		return err
	}
	var eff Settings
	if err := json.Unmarshal(row.Effective, &eff); err != nil {
		return fmt.Errorf("configuration of home %s: %w", g.Home, err)
	}
	c, err := Config(eff, gw, f.Municipality, row.Version)
	if err != nil {
		return err
	}
	data, err := vagt.EncodeConfig(&c)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.o.Publisher.Publish(pctx, vagt.Topic(gw, vagt.LaneConfig), data); err != nil {
		return err
	}
	s.log.Info("config published", "gateway", gw, "home", g.Home, "version", row.Version, "bytes", len(data))
	return s.store.MarkConfigPublished(ctx, gw, row.Version, s.o.Clock.Now())
}
