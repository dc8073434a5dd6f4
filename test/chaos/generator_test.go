package chaos

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/load"
)

// fleetGenerator is the load generator's share on the cluster. vagt broker-auth lets a
// connection publish only under its own gateway id, so the generator's homes cannot share
// a few connections as load.Run multiplexes them; they play as a fleet instead, one
// connection and client certificate each, as real gateways: each reconnects on its own
// (full-jitter back-off) through every fault, its unacknowledged publishes kept and sent
// again. The certificates are issued here, on the test's goroutine.
type fleetGenerator struct {
	url   string
	certs []*tls.Config
}

// genPrefix: the fleet's gateways are gen1-000001 …, as the first load.Run's.
const genPrefix = "gen1"

func newFleetGenerator(t *testing.T, b chaosBroker) *fleetGenerator {
	t.Helper()
	g := &fleetGenerator{url: b.URL()}
	for i := range genHomes {
		g.certs = append(g.certs, b.login(t, string(load.GatewayID(genPrefix, i))).tls)
	}
	return g
}

// run plays genHomes homes, a batch of 100 readings each a second and an alarm every
// genAlarmEvery batches, until ctx ends, then waits for the broker's acknowledgements and
// counts what was acknowledged (Failed: publishes that were not).
func (g *fleetGenerator) run(ctx context.Context) (load.Report, error) {
	f, err := load.StartFleet(ctx, load.FleetConfig{Gateways: genHomes, Prefix: genPrefix, Brokers: []string{g.url},
		TLS:       func(i int) *tls.Config { return g.certs[i] },
		KeepAlive: 2 * time.Second, MaxBackoff: time.Second, Subscribe: true, Sensors: 10, Samples: 10})
	if f != nil {
		defer f.Close()
	}
	if err != nil {
		return load.Report{}, err
	}
	var (
		readings, batches, alarms, failed atomic.Uint64
		wg                                sync.WaitGroup
		firstErr                          error
	)
	settle := func(tok interface {
		WaitTimeout(time.Duration) bool
		Error() error
	}, ok func()) {
		wg.Go(func() {
			if tok.WaitTimeout(3*time.Minute) && tok.Error() == nil {
				ok()
			} else {
				failed.Add(1)
			}
		})
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for round := 0; ; round++ {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		for i := range genHomes {
			n, tok, err := f.Batch(i)
			if err != nil {
				firstErr = err
				break loop
			}
			settle(tok, func() { readings.Add(uint64(n)); batches.Add(1) })
			if (round+i)%genAlarmEvery == 0 {
				_, tok, err := f.Alarm(i, time.Now())
				if err != nil {
					firstErr = err
					break loop
				}
				settle(tok, func() { alarms.Add(1) })
			}
		}
	}
	wg.Wait()
	r := load.Report{Gateways: genHomes, Readings: readings.Load(), Batches: batches.Load(), Alarms: alarms.Load(), Failed: failed.Load()}
	if firstErr != nil {
		return r, fmt.Errorf("load generator: %w", firstErr)
	}
	return r, nil
}
