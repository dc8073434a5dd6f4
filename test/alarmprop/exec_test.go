package alarmprop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
)

// clockState is what the test last wrote to the gateway's clock file: the gateway's clock
// read base at setAt (wall clock), or the true time when base is zero.
type clockState struct {
	base, setAt time.Time
	writes      int
}

// now is the gateway's clock as the test set it.
func (c *clockState) now() time.Time {
	if c.base.IsZero() {
		return time.Now()
	}
	return c.base.Add(time.Since(c.setAt))
}

// set writes the clock file: the gateway's clock reads t from when it sees the file.
func (w *world) setClock(c *clockState, t time.Time, why string) error {
	c.writes++
	content := ""
	if !t.IsZero() {
		content = fmt.Sprintf("%s %s %d\n", t.UTC().Format(time.RFC3339Nano), why, c.writes)
	}
	c.base, c.setAt = t, time.Now()
	if err := os.WriteFile(w.clockFile, []byte(content), 0o600); err != nil {
		return err
	}
	// The gateway reads the file at its first clock reading at least fileClockRefresh
	// (20 ms, cmd/vagt-gateway) after its last: past that, whatever the test does next
	// meets the new clock.
	time.Sleep(30 * time.Millisecond)
	return nil
}

// do carries out one action on the world.
func (w *world) do(ctx context.Context, a action, clock *clockState) error {
	r := rand.New(rand.NewPCG(a.seed, a.seed>>1|1))
	switch a.kind {
	case actSerialNew, actSerialRepeat:
		al := a.alarm
		if a.kind == actSerialNew && a.variant == 1 {
			// The first try is torn (a power dip): the unit does not know, the gateway
			// drops it when the real frame's '$' arrives.
			f := baseunit.Encode(unitID, "65000", "A", al.name, al.wire)
			if err := w.unit.Raw(f[:1+r.IntN(len(f)-8)]); err != nil {
				return err
			}
		}
		seq, err := w.unit.Alarm(al.name, al.wire)
		al.frames = append(al.frames, seq)
		return err
	case actSerialClear:
		return w.unit.Reading(a.alarm.name, a.alarm.wire, 0)
	case actZigbeeNew, actZigbeeRepeat, actZigbeeClear:
		al := a.alarm
		on := a.kind != actZigbeeClear
		var err error
		switch al.typ {
		case vagt.AlarmPanic: // a button
			switch a.variant {
			case 0:
				err = w.bridge.Button(al.name, "emergency")
			case 1:
				err = w.bridge.Button(al.name, "sos")
			default:
				err = w.bridge.Publish(al.name, map[string]any{"sos": true})
			}
		case vagt.AlarmWaterLeak:
			err = w.bridge.Water(al.name, on)
		default: // smoke
			err = w.bridge.Publish(al.name, map[string]any{"smoke": on, "battery_low": false})
		}
		if err == nil {
			al.sent++
		}
		return err
	case actReadings:
		for i := range a.n {
			var err error
			switch x := r.IntN(6); {
			case x == 0 && w.gw.Running():
				err = w.unit.Heartbeat(time.Duration(i)*time.Second, true, 60+r.IntN(40))
			case x <= 2 && w.gw.Running():
				kinds := []string{"temperature", "motion", "door_open", "bed_occupied"}
				k := kinds[r.IntN(len(kinds))]
				v := float64(r.IntN(2))
				if k == "temperature" {
					v = float64(1500+r.IntN(1000)) / 100
				}
				err = w.unit.Reading("env"+strconv.Itoa(r.IntN(3)), k, v)
			default:
				name := w.zbEnv[r.IntN(len(w.zbEnv))]
				switch r.IntN(3) {
				case 0:
					err = w.bridge.Climate(name, float64(150+r.IntN(100))/10, float64(30+r.IntN(40)))
				case 1:
					err = w.bridge.Motion(name, r.IntN(2) == 0, r.IntN(500))
				default:
					err = w.bridge.Door(name, r.IntN(2) == 0)
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	case actNoise:
		b := make([]byte, a.n)
		for i := range b {
			b[i] = byte(r.IntN(256))
			if b[i] == '$' { // noise starting a frame could, once in 65536, be one
				b[i] = '#'
			}
		}
		return w.unit.Raw(b)
	case actGhost:
		// A ghost alarm of a device that never raises one: it must become nothing.
		name := "g" + strconv.Itoa(a.n)
		f := baseunit.Encode(unitID, strconv.Itoa(60000+a.n%5000), "A", name, serialAlarms[r.IntN(len(serialAlarms))].wire)
		switch a.variant {
		case 0: // torn: the rest never comes
			return w.unit.Raw(f[:1+r.IntN(len(f)-8)])
		case 1: // a bit flipped in the body: CRC-16 catches every single-bit error
			i := 1 + r.IntN(len(f)-8)
			f[i] ^= 1 << r.IntN(7)
			return w.unit.Raw(f)
		case 2: // a checksum that does not match
			f[len(f)-3] ^= 0x01
			return w.unit.Raw(f)
		default: // a Zigbee device of the map sends what is no alarm
			payloads := []string{`{"action":"emergency"`, `not json`, `{"action":5}`, `{"sos":"yes"}`, `[]`,
				`{"action":"single","battery":90}`, `{"smoke":"maybe"}`, `{"water_leak":null}`}
			return w.bridge.Raw(w.zbJunk[r.IntN(len(w.zbJunk))], []byte(payloads[r.IntN(len(payloads))]))
		}
	case actClock:
		switch a.clock {
		case clockTrue:
			return w.setClock(clock, time.Time{}, "ntp")
		case clockTo1970:
			return w.setClock(clock, time.Unix(int64(a.n), 0), "back-to-1970")
		case clockForward:
			return w.setClock(clock, clock.now().AddDate(a.n, 0, 0), "forward")
		}
	case actCut:
		w.relay.Cut()
	case actRestore:
		w.relay.Restore()
	case actBrokerDown:
		if a.hard {
			return w.platform.Kill()
		}
		return w.platform.Stop()
	case actBrokerUp:
		return w.platform.Start(ctx)
	case actGatewayKill:
		time.Sleep(a.d)
		return w.gw.Kill()
	case actGatewayStart:
		if a.spoolLoss {
			lost, err := spoolAlarms(w.spool)
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			for _, x := range lost {
				w.lostSeqs[x.Seq] = true
				if x.Clears == 0 {
					w.spoolLost[x.Device]++
				}
			}
			if err := os.Remove(w.spool); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		var err error
		switch a.clock {
		case clockKeep:
			if !clock.base.IsZero() {
				err = w.setClock(clock, clock.now(), "restart")
			}
		case clockTrue:
			err = w.setClock(clock, time.Time{}, "boot-ntp")
		case clockBoot1970:
			err = w.setClock(clock, bootTime, "boot-no-rtc")
		}
		if err != nil {
			return err
		}
		return w.gw.Start()
	case actWait:
		time.Sleep(a.d)
	}
	return nil
}
