package alarmprop

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt"
)

// plan draws n actions of a seed, as the property test does.
func plan(seed uint64, n int, skip map[string]bool) ([]string, *model) {
	m := newModel(seed, newPool(n/12+4), skip)
	m.horizon = n
	var out []string
	for range n {
		out = append(out, m.next().String())
	}
	return out, m
}

// TestPlanIsTheSeeds: a seed replays the same actions; another seed plays others.
func TestPlanIsTheSeeds(t *testing.T) {
	a, _ := plan(42, 500, nil)
	b, _ := plan(42, 500, nil)
	c, _ := plan(43, 500, nil)
	if !slices.Equal(a, b) {
		t.Error("seed 42 planned two different runs")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 42 and 43 planned the same run")
	}
}

// TestPlanCoversEveryFault: a run as long as the one in `make test` plans every kind of
// action, spool loss and each way of setting the clock; a skipped group is left out.
func TestPlanCoversEveryFault(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		actions, m := plan(seed, defaultSteps, nil)
		all := strings.Join(actions, "\n")
		for _, k := range []kind{actSerialNew, actZigbeeNew, actReadings, actNoise, actGhost, actClock, actCut, actBrokerDown, actGatewayKill, actGatewayStart} {
			if m.counts[k] == 0 {
				t.Errorf("seed %d: no %s in %d actions", seed, k, defaultSteps)
			}
		}
		for _, want := range []string{"boot at 1970, spool lost", "back to 1970", "forward", "(kill -9)", "(clean stop)"} {
			if !strings.Contains(all, want) {
				t.Errorf("seed %d: no %q in %d actions", seed, want, defaultSteps)
			}
		}
		if !m.gwUp && !strings.Contains(actions[len(actions)-1], "kill") && m.downFor > 4 {
			t.Errorf("seed %d: the gateway stayed down %d actions", seed, m.downFor)
		}
	}
	actions, m := plan(7, 2000, map[string]bool{"clock": true, "spool": true})
	all := strings.Join(actions, "\n")
	if m.counts[actClock] != 0 || strings.Contains(all, "spool lost") || strings.Contains(all, "boot at 1970") {
		t.Error("VAGT_ALARM_SKIP=clock,spool still planned clock steps or spool loss")
	}
}

// TestJudge: the check itself, on made-up databases: each way of breaking the property is
// found, and what may happen (a gateway-offline alert, a fold, a raise lost with a spool)
// is not held against it.
func TestJudge(t *testing.T) {
	al := func(dev string, typ vagt.AlarmType, delivered bool) *alarm {
		return &alarm{dev: vagt.DeviceID(dev), typ: typ, delivered: delivered}
	}
	alarms := []*alarm{
		al("bu-prop:s1", vagt.AlarmPanic, true),     // one alert, folded twice
		al("bu-prop:s2", vagt.AlarmSmoke, true),     // no alert
		al("zb-btn-1", vagt.AlarmPanic, true),       // two alerts
		al("zb-water-1", vagt.AlarmWaterLeak, true), // an alert of another type
		al("zb-smoke-1", vagt.AlarmSmoke, false),    // not acknowledged, yet an alert
		al("bu-prop:s3", vagt.AlarmFall, true),      // lost with a deleted spool
		al("bu-prop:s4", vagt.AlarmFall, false),     // not acknowledged, no alert: fine
	}
	gw := string(gatewayID)
	st := apiState{receipts: 9, alerts: []alertRow{
		{gw, "bu-prop:s1", vagt.AlarmPanic, 3},
		{gw, "zb-btn-1", vagt.AlarmPanic, 1}, {gw, "zb-btn-1", vagt.AlarmPanic, 1},
		{gw, "zb-water-1", vagt.AlarmSmoke, 1},
		{gw, "zb-smoke-1", vagt.AlarmSmoke, 1},
		{gw, "bu-prop:g1", vagt.AlarmPanic, 1}, // a ghost frame became an alert
		{gw, gw, vagt.AlarmGatewayOffline, 1},
	}}
	v := judge("test", st, alarms, map[vagt.DeviceID]int{"bu-prop:s3": 1})
	if v.one != 1 || v.folded != 2 || v.offline != 1 || v.lost != 1 || v.alerts != 6 {
		t.Errorf("one %d folded %d offline %d lost %d alerts %d", v.one, v.folded, v.offline, v.lost, v.alerts)
	}
	for what, got := range map[string][]string{"missing": v.missing, "doubled": v.doubled, "wrong type": v.wrongType} {
		if len(got) != 1 {
			t.Errorf("%s: %v, want one", what, got)
		}
	}
	if len(v.extra) != 2 {
		t.Errorf("not raised: %v, want zb-smoke-1 and bu-prop:g1", v.extra)
	}
	if !v.failed() {
		t.Error("not failed")
	}
	if v := judge("ok", apiState{alerts: []alertRow{{gw, "bu-prop:s1", vagt.AlarmPanic, 1}}}, alarms[:1], nil); v.failed() {
		t.Errorf("a run that kept the property failed: %+v", v)
	}
}

// TestHomeDeliveries reads a Mosquitto 2.0 debug log: a message sent, the gateway killed
// before its PUBACK, sent again (d1) and acknowledged counts once; one never acknowledged
// is pending; what was published before the gateway subscribed is in the base.
func TestHomeDeliveries(t *testing.T) {
	log := `1: Received PUBLISH from z2m-sim-1 (d0, q1, r0, m1, 'zigbee2mqtt/zb-env-1', ... (100 bytes))
2: Received PUBLISH from z2m-sim-1 (d0, q1, r0, m2, 'zigbee2mqtt/zb-btn-1', ... (62 bytes))
3: Sending PUBLISH to vagt-gateway-gw-prop-1 (d0, q1, r0, m5, 'zigbee2mqtt/zb-btn-1', ... (62 bytes))
4: Client vagt-gateway-gw-prop-1 closed its connection.
5: Sending PUBLISH to vagt-gateway-gw-prop-1 (d1, q1, r0, m5, 'zigbee2mqtt/zb-btn-1', ... (62 bytes))
6: Received PUBACK from vagt-gateway-gw-prop-1 (Mid: 5, RC:0)
7: Received PUBLISH from z2m-sim-1 (d0, q1, r0, m3, 'zigbee2mqtt/zb-water-1', ... (99 bytes))
8: Sending PUBLISH to vagt-gateway-gw-prop-1 (d0, q1, r0, m6, 'zigbee2mqtt/zb-water-1', ... (99 bytes))
9: Received PUBACK from other-client (Mid: 6, RC:0)
`
	path := filepath.Join(t.TempDir(), "mosquitto.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := homeDeliveries(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.acked["zigbee2mqtt/zb-btn-1"] != 1 || d.acked["zigbee2mqtt/zb-water-1"] != 0 || d.unacked != 1 {
		t.Errorf("acked %v unacked %d", d.acked, d.unacked)
	}
	base := deliveries{published: map[string]int{"zigbee2mqtt/zb-env-1": 1}, acked: map[string]int{}}
	if n := d.pending(base); n != 2 { // zb-water-1 sent and not acknowledged: 1 unacked + 1 not acknowledged
		t.Errorf("pending %d, want 2", n)
	}
}
