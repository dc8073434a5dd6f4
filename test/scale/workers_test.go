package main

import (
	"bufio"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/internal/mqttsub/refusetest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The lane SUBSCRIBEs a worker's broker refused reach the parent over the worker protocol:
// a run whose fleet is spread over workers must not report 0 refusals when its lanes were
// refused (the run did not load the broker as real gateways would).
func TestWorkerCarriesLaneRefusalsToTheParent(t *testing.T) {
	b := refusetest.StartRefusingAll(t)
	f, err := load.StartFleet(t.Context(), load.FleetConfig{Brokers: []string{b.URL()}, Gateways: 2, Prefix: "load", Subscribe: true,
		Username: func(int) (string, string) { return refusetest.User, refusetest.Password }, MaxBackoff: 100 * time.Millisecond})
	if f != nil {
		defer f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	reqR, reqW := io.Pipe()
	repR, repW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- serveWorker(bufio.NewScanner(reqR), json.NewEncoder(repW), f)
		repW.Close()
	}()
	m := &multiFleet{n: 2, per: 2, workers: []*worker{{first: 0, count: 2, in: reqW, out: bufio.NewScanner(repR)}}}
	stacktest.WaitFor(t, "the worker's refusals at the parent", time.Minute, func() bool { return m.SubscribeFailures() >= 2 })
	if n := m.Connected(); n != 2 {
		t.Errorf("%d of 2 gateways connected: a refused lane is not a lost connection", n)
	}
	reqW.Close()
	if err := <-served; err != nil {
		t.Error(err)
	}
}
