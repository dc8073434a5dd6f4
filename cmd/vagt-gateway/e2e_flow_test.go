package main

import (
	"context"
	"syscall"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

const (
	serialTemp vagt.DeviceID = "bu-17:temp-1"
	zigbeeTemp vagt.DeviceID = "0x00158d0001a2b3c7"
)

// TestEndToEnd is the "done when": an emulated base unit on a pty and emulated
// Zigbee2MQTT devices on a real Mosquitto, the real gateway binary between them, a real
// platform Mosquitto. Every reading and alarm arrives; after an outage the alarms come
// before the telemetry; nothing is lost across kill -9 and restart; the retained status
// and will behave.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := buildGateway(t, dir)
	local := stacktest.Mosquitto(t)
	plat := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	platform := newPlatform(t, plat.URL())
	home := startE2EHome(t, bin, dir, local.URL(), plat.URL())
	line, unit, z2m, gw := home.line, home.unit, home.z2m, home.gw
	eventually(t, "the gateway's retained online status", func() bool {
		st := platform.decode(t).statuses
		return len(st) > 0 && st[len(st)-1].Online
	})
	eventually(t, "the Zigbee subscription", func() bool {
		s, ok := gw.snapshot()
		if ok && zigbeeMessages(s) == 0 {
			z2m.Availability("living_room", true, false) // until one arrives
		}
		return ok && zigbeeMessages(s) > 0
	})

	// Readings are told apart by their values: serial 20.01, 20.02, ...; Zigbee 10.01, ...
	var want []string
	n := 0
	send := func(count int) {
		t.Helper()
		for range count {
			n++
			v := float64(n) / 100
			if err := unit.Reading("temp-1", "temperature", 20+v); err != nil {
				t.Fatal(err)
			}
			if err := z2m.Climate("living_room", 10+v, 50); err != nil {
				t.Fatal(err)
			}
			want = append(want, key(serialTemp, vagt.KindTemperature, 20+v), key(zigbeeTemp, vagt.KindTemperature, 10+v))
		}
	}
	// Each phase presses a different button: presses of one button within two minutes
	// are one episode by design (rules.momentaryQuiet).
	panicPress := func(btn string) {
		t.Helper()
		seq, err := unit.Alarm(btn, "panic")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the gateway's ack of the panic frame", func() bool { return unit.Acked(seq) })
	}
	allArrived := func() bool {
		s := platform.decode(t)
		for _, k := range want {
			if len(s.readings[k]) == 0 {
				return false
			}
		}
		return true
	}

	// 1. Normal operation, with noise and a torn frame on the line.
	unit.Raw([]byte("\x00\xffnoise"))
	unit.Raw(baseunit.Encode("bu-17", "9999", "R", "temp-1", "temperature", "99")[:15])
	send(10)
	panicPress("btn-1")
	eventually(t, "phase 1 readings and the panic", func() bool { return allArrived() && len(platform.decode(t).alarmsOf(vagt.AlarmPanic)) == 1 })

	// 1b. The serial cable is pulled; a panic is pressed meanwhile (the unit keeps it); the
	// cable goes back in: the gateway reopens the port, the unit repeats, the alarm arrives.
	if err := line.Unplug(); err != nil {
		t.Fatal(err)
	}
	unplugged, err := unit.Alarm("btn-0", "panic")
	if err != nil {
		t.Fatal(err)
	}
	if err := line.Plug(); err != nil {
		t.Fatal(err)
	}
	home.plugIn()
	eventually(t, "the panic pressed while unplugged", func() bool {
		return unit.Acked(unplugged) && len(platform.decode(t).alarmsOf(vagt.AlarmPanic)) == 2
	})
	if s, _ := gw.snapshot(); s.Serial == nil {
		t.Fatal("no serial counters on the status page")
	}

	// 2. The platform broker goes down; the spool grows; it comes back.
	if err := plat.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the gateway to see the outage", func() bool { s, ok := gw.snapshot(); return ok && !s.UplinkUp })
	before := len(platform.snapshot())
	outageFrom := len(want)
	send(10)
	panicPress("btn-2")
	if err := z2m.Water("bathroom_leak", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the outage's alarms and readings in the spool", func() bool {
		s, ok := gw.snapshot()
		return ok && s.Spool.Alarms >= 2 && s.Spool.BatchedReadings+s.Spool.PendingReadings >= 20
	})
	if err := plat.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the outage's readings and alarms", func() bool {
		s := platform.decode(t)
		return allArrived() && len(s.alarmsOf(vagt.AlarmPanic)) == 3 && len(s.alarmsOf(vagt.AlarmWaterLeak)) == 1
	})
	s := platform.decode(t)
	firstTelemetry := 1 << 30
	for _, k := range want[outageFrom:] {
		firstTelemetry = min(firstTelemetry, s.readAt[k])
	}
	for seq, a := range s.alarms {
		if s.alarmAt[seq] >= before && s.alarmAt[seq] > firstTelemetry {
			t.Errorf("alarm %d (%s) arrived at %d, after the outage's first telemetry at %d", seq, a.Type, s.alarmAt[seq], firstTelemetry)
		}
	}

	// 3. kill -9 with readings and an alarm in the spool that no broker has seen (the
	// platform is down, so they cannot have left), then a restart: all of it arrives.
	if err := plat.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the gateway to see the second outage", func() bool { s, ok := gw.snapshot(); return ok && !s.UplinkUp })
	send(10)
	seq, err := unit.Alarm("btn-3", "panic")
	if err != nil {
		t.Fatal(err)
	}
	var spooled gateway.Snapshot
	eventually(t, "the kill phase spooled", func() bool {
		s, ok := gw.snapshot()
		spooled = s
		return ok && unit.Acked(seq) && s.Spool.Alarms >= 1 && s.Spool.BatchedReadings+s.Spool.PendingReadings >= 20
	})
	gw.signal(t, syscall.SIGKILL)
	if err := plat.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	gw.start(t)
	eventually(t, "every reading and the third panic after the restart", func() bool {
		return allArrived() && len(platform.decode(t).alarmsOf(vagt.AlarmPanic)) == 4
	})

	// 4. kill -9 while connected: the broker publishes the will; a restart says online.
	gw.signal(t, syscall.SIGKILL)
	eventually(t, "the will: offline", func() bool {
		st := platform.decode(t).statuses
		return len(st) > 0 && !st[len(st)-1].Online
	})
	gw.start(t)
	eventually(t, "online again", func() bool {
		st := platform.decode(t).statuses
		return len(st) > 0 && st[len(st)-1].Online
	})
	s = platform.decode(t)
	if len(s.dupDiff) > 0 {
		t.Errorf("redelivered with different bytes: %v", s.dupDiff)
	}
	for _, k := range want { // the readings with unique values: each in exactly one batch
		if seqs := s.readings[k]; len(seqs) != 1 {
			t.Errorf("reading %s arrived in batches %v: a duplicate that is not a redelivery", k, seqs)
		}
	}

	// 5. A clean stop leaves the retained status offline.
	if err := gw.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("gateway exit: %v", err)
	}
	late := newPlatformClient(t, plat.URL(), "late-e2e")
	eventually(t, "the retained offline status", func() bool {
		st := late.decode(t).statuses
		return len(st) > 0 && !st[len(st)-1].Online
	})
	t.Logf("%d batches, %d alarm events, %d statuses; in the spool at kill -9: %d alarms, %d readings", len(s.batches), len(s.alarms), len(s.statuses),
		spooled.Spool.Alarms, spooled.Spool.BatchedReadings+spooled.Spool.PendingReadings)
}
