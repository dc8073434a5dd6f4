package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
)

// TestConsoleLaneDown: the broker stops under an open console. The console stops saying
// "Live" and shows, in Danish, that alarms are not getting through; when the broker is
// back it says so and an alarm arrives again. That alarm comes from a gateway whose clock
// was not set (it sends the best time it has, here 2020): the card shows it, dated by when the platform received it.
func TestConsoleLaneDown(t *testing.T) {
	b := newBrowser(t)
	st := startStack(t)
	b.do("open the console", chromedp.Navigate(st.proxy.URL+"/"), chromedp.WaitVisible("#token", chromedp.ByID))
	b.signIn(st.tokens["anna"])
	b.waitJS("the console live with the lane up",
		`document.body.dataset.lane === "up" && document.getElementById("status").textContent === "Forbundet" && document.getElementById("lane-banner").hidden`)

	if err := st.broker.Stop(); err != nil {
		t.Fatal(err)
	}
	b.do("the lane banner", chromedp.WaitVisible("#lane-banner", chromedp.ByID))
	if got := b.text("#lane-banner"); !containsAll(got, "Alarmer kommer ikke igennem", "forbindelsen til alarmsystemet er afbrudt") {
		t.Fatalf("lane banner %q", got)
	}
	if got := b.text("#status"); got != "Alarmer kommer ikke igennem" {
		t.Fatalf("status with the lane down: %q", got)
	}
	b.screenshot("console-lane-down")

	if err := st.broker.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.do("the lane banner goes", chromedp.WaitNotVisible("#lane-banner", chromedp.ByID))
	b.waitJS("live again, and told so", `document.getElementById("status").textContent === "Forbundet" &&
		document.getElementById("toast").textContent.includes("alarmer kommer igennem igen")`)

	gw := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(st.broker.URL()).SetClientID(fmt.Sprintf("gw-lane-%d", time.Now().UnixNano())))
	if tok := gw.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { gw.Disconnect(100) })
	st.gw = gw
	st.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: time.Date(2020, 1, 1, 0, 3, 0, 0, time.UTC), Device: "bu-17:btn", Type: vagt.AlarmPanic,
		Details: map[string]string{"clock": "unsynced"}})
	b.do("the alarm after the lane came back", chromedp.WaitVisible(card("panic")+" .unsynced", chromedp.ByQuery))
	b.waitJS("dated by receipt, not by the gateway's clock", `!document.querySelector('`+card("panic")+` .since').dataset.since.startsWith("2020-01-01") &&
		document.querySelector('`+card("panic")+` .unsynced').title.includes("2020-01-01T00:03:00Z")`)
	b.screenshot("console-unsynced-clock")
	b.checkErrors()
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
