package security

import (
	"context"
	"database/sql"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// An alarm published on one gateway's topic with another gateway's id in its payload is
// refused by the api's alarm lane end to end, through a real broker: no alert for either
// gateway, while the same gateway's genuine alarm right after it becomes one.
func TestSpoofedAlarmRefusedEndToEnd(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	dbPath := t.TempDir() + "/vagt.db"
	srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: dbPath, Broker: broker.URL(), ClientID: "sec-api",
		Group: "-"}, server.Deps{})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("gw-sec-a"))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	publish := func(payloadGateway vagt.GatewayID, seq uint64, dev vagt.DeviceID) {
		data, err := vagt.EncodeAlarm(&vagt.Alarm{Gateway: payloadGateway, Seq: seq, Municipality: 766,
			Time: time.Now().Truncate(time.Millisecond), Device: dev, Type: vagt.AlarmPanic, Priority: vagt.AlarmPanic.Priority()})
		must(t, err)
		tok := c.Publish(vagt.Topic("gw-sec-a", vagt.LaneAlarm), 1, false, data)
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	// The lane subscribes after it starts: publish the genuine marker until it is taken.
	publish("gw-sec-b", 1, "bu-1:spoofed")
	db, err := sql.Open("sqlite", dbPath)
	must(t, err)
	defer db.Close()
	count := func(q string, args ...any) int {
		var n int
		must(t, db.QueryRowContext(t.Context(), q, args...).Scan(&n))
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for seq := uint64(1); count(`SELECT count(*) FROM alerts WHERE device_id = 'bu-1:genuine'`) == 0; seq++ {
		if time.Now().After(deadline) {
			t.Fatal("the genuine alarm never became an alert")
		}
		publish("gw-sec-b", 1000+seq, "bu-1:spoofed")
		publish("gw-sec-a", seq, "bu-1:genuine")
		time.Sleep(200 * time.Millisecond)
	}
	if n := count(`SELECT count(*) FROM alerts WHERE gateway_id = 'gw-sec-b' OR device_id = 'bu-1:spoofed'`); n != 0 {
		t.Errorf("%d alerts from spoofed alarms (gw-sec-b's id on gw-sec-a's topic)", n)
	}
	if n := count(`SELECT count(*) FROM alarm_receipts WHERE gateway_id = 'gw-sec-b'`); n != 0 {
		t.Errorf("%d spoofed alarms recorded as received", n)
	}
}
