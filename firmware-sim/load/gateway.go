package load

import (
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
)

// sensorKinds is the mix a home's sensors report, one kind per sensor in turn: climate,
// presence, door and bed states, and the devices' own figures.
var sensorKinds = []struct {
	kind  vagt.Kind
	value func(k int) float64
}{
	{vagt.KindTemperature, func(k int) float64 { return 19 + float64(k%400)/100 }},
	{vagt.KindHumidity, func(k int) float64 { return 35 + float64(k%300)/10 }},
	{vagt.KindMotion, func(k int) float64 { return float64(k % 2) }},
	{vagt.KindDoorOpen, func(k int) float64 { return float64(k / 7 % 2) }},
	{vagt.KindBedOccupied, func(k int) float64 { return float64(k / 13 % 2) }},
	{vagt.KindIlluminance, func(k int) float64 { return float64(k * 37 % 900) }},
	{vagt.KindBattery, func(k int) float64 { return float64(100 - k%60) }},
	{vagt.KindPower, func(k int) float64 { return float64(k%2000) / 10 }},
	{vagt.KindLinkQuality, func(k int) float64 { return float64(60 + k%150) }},
}

// SensorReading is the kind and value sensor s of a home reports at its sample k: what the
// load generator sends, for a benchmark that must write the very same values.
func SensorReading(s, k int) (vagt.Kind, float64) {
	m := sensorKinds[s%len(sensorKinds)]
	return m.kind, m.value(k + s)
}

var alarmTypes = []vagt.AlarmType{vagt.AlarmPanic, vagt.AlarmFall, vagt.AlarmDoorAtNight, vagt.AlarmLowBattery}

// gateway is one simulated home: its ids and where its sequences stand.
type gateway struct {
	cfg       *Config
	index     int
	id        vagt.GatewayID
	mun       vagt.MunicipalityCode
	devices   []vagt.DeviceID
	telemetry string
	alarm     string
	seq       uint64 // last batch seq
	alarmSeq  uint64
	sample    int // next virtual sample index
	batch     vagt.Batch
}

func newGateway(cfg *Config, i int) *gateway {
	muns := vagt.Municipalities()
	g := &gateway{
		cfg:   cfg,
		index: i,
		id:    GatewayID(cfg.Prefix, i),
		mun:   muns[i%len(muns)].Code,
	}
	g.telemetry = vagt.Topic(g.id, vagt.LaneTelemetry)
	g.alarm = vagt.Topic(g.id, vagt.LaneAlarm)
	for s := range cfg.Sensors {
		g.devices = append(g.devices, vagt.DeviceID(fmt.Sprintf("0x00158d00%04x%04x", i%0x10000, s)))
	}
	g.batch = vagt.Batch{Gateway: g.id, Municipality: g.mun, Readings: make([]vagt.Reading, 0, cfg.Sensors*cfg.Samples)}
	return g
}

// nextBatch encodes the gateway's next batch: Samples readings of every sensor.
func (g *gateway) nextBatch() ([]byte, int, error) {
	g.seq++
	b := &g.batch
	b.Seq = g.seq
	b.Readings = b.Readings[:0]
	for range g.cfg.Samples {
		t := g.cfg.Start.Add(time.Duration(g.sample) * g.cfg.Step)
		for s, dev := range g.devices {
			kind, value := SensorReading(s, g.sample)
			b.Readings = append(b.Readings, vagt.Reading{Device: dev, Kind: kind, Time: t, Value: value})
		}
		g.sample++
	}
	payload, err := vagt.EncodeBatch(b)
	if err != nil {
		return nil, 0, fmt.Errorf("load: gateway %s: %w", g.id, err)
	}
	return payload, len(b.Readings), nil
}

// nextAlarm encodes an alarm at the time of the gateway's latest sample.
func (g *gateway) nextAlarm() ([]byte, error) {
	g.alarmSeq++
	typ := alarmTypes[int(g.alarmSeq)%len(alarmTypes)]
	a := &vagt.Alarm{
		Gateway:      g.id,
		Seq:          g.alarmSeq,
		Municipality: g.mun,
		Time:         g.cfg.Start.Add(time.Duration(g.sample-1) * g.cfg.Step),
		Device:       g.devices[0],
		Type:         typ,
		Priority:     typ.Priority(),
	}
	payload, err := vagt.EncodeAlarm(a)
	if err != nil {
		return nil, fmt.Errorf("load: gateway %s: %w", g.id, err)
	}
	return payload, nil
}
