package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// printer writes what the one watching the demo reads: the welcome block (what to open,
// whose token is which) and a line per alarm. The alarm goroutine and Run both write, so
// it serialises them. Danish first, English after a "·", as the pages are Danish by default.
type printer struct {
	mu  sync.Mutex
	w   io.Writer
	api string // the api's address, known once the welcome is printed
}

// welcome is what the start block names.
type welcome struct {
	api, broker, influx, ingest string
	escalate                    time.Duration
}

func (p *printer) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, s)
}

// welcome prints the start block. Each token line starts with its role and ends with the
// token, so a script (and TestDemo) can take them from it.
func (p *printer) welcome(w welcome, v *village) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.api = w.api
	a := w.api
	da, en := sayDuration(w.escalate, "min.", "sek."), sayDuration(w.escalate, "min", "s")
	fmt.Fprintf(p.w, `
vagt-demo kører · is running: %d simulerede hjem · simulated homes in %s.

Åbn · Open
  plejeapp (telefon) · care app (phone)  http://%s/app     (et vindue på 360×640 · a 360×640 window)
  konsol · care console                  http://%s/
  ledelse · manager dashboard            http://%s/stats
  nattilsyn · night board                http://%s/night   (hjem med sengesensor · homes with a bed sensor)
  vagtplan · duty roster                 http://%s/roster  (log ind som leder · sign in as the manager)
  API                                    http://%s/api/v1   (OpenAPI: /openapi.yaml)
  broker %s · InfluxDB %s (database vagt) · ingest http://%s/metrics

Log ind med · Sign in with (også i · also in %s):
%s
Sådan · How it goes:
  1. Alarmerne sker i %s, hver med en linje herunder · The alarms happen in %s, each with a line below.
  2. Åbn appen med staff-nøglen: alarmen ringer; "Tag", "På vej", "Ankommet", "Afslut med udfald".
     Open the app with the staff token: the alarm rings; take it, on my way, arrived, resolve.
  3. En alarm, som ingen på vagten kvitterer for inden %s, går til bagvagten (backup-nøglen).
     An alarm nobody on the shift acknowledges within %s goes to the backup (the backup token).
     Demoen bruger %s for kritiske og høje alarmer (i drift: kritisk 60 s, høj 5 min; --escalate-after).
     The demo uses %s for critical and high alarms (in production: critical 60 s, high 5 min).
     Er ingen fra vagten forbundet, går alarmen videre med det samme · With nobody of the shift connected it moves on at once.

Ctrl-C stopper; data bliver i %s til næste gang · Ctrl-C stops; the data stays for the next run (make clean-data empties it).
`, len(v.homes), v.where(), a, a, a, a, a, a, w.broker, w.influx, w.ingest, v.tokensFile, tokenLines(v),
		v.alarmsWhere, v.alarmsWhere, da, en, da, en, v.dir)
}

// alarmNames are the demo's alarms in Danish and English, as the console names them.
var alarmNames = map[vagt.AlarmType]string{
	vagt.AlarmPanic:     "nødkald · panic",
	vagt.AlarmFall:      "fald · fall",
	vagt.AlarmWaterLeak: "vand på gulvet · water leak",
}

var priorityNames = map[vagt.Priority]string{
	vagt.PriorityCritical:  "kritisk · critical",
	vagt.PriorityHigh:      "høj · high",
	vagt.PriorityTechnical: "teknisk · technical",
}

// alarm prints a line for an alarm raised in a home: Danish time, district, type and
// priority, the citizen, and where staff see it. The citizen's name is invented (seed.go).
func (p *printer) alarm(at time.Time, h demoHome, what vagt.AlarmType) {
	name, ok := alarmNames[what]
	if !ok {
		name = what.String()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s ALARM  %s · %s (%s) · %s → http://%s/app · http://%s/\n",
		at.In(copenhagen).Format("15:04:05"), districts[h.district].name, name, priorityNames[what.Priority()], h.citizen, p.api, p.api)
}

// tokenLines are the tokens, one a line: role, whose (Danish · English), token.
func tokenLines(v *village) string {
	rows := [][3]string{
		{"staff", "medarbejder på vagt, " + v.staffScope + " · staff on duty", v.tokens.Staff},
		{"backup", "bagvagt, " + v.backupScope + " · the backup on duty", v.tokens.Backup},
		{"manager", "leder, " + v.managerScope + " · manager (dashboard, roster)", v.tokens.Manager},
		{"national", "hele landet · national statistics", v.tokens.National},
		{"admin", "administrator · admin", v.tokens.Admin},
	}
	width := 0
	for _, r := range rows {
		width = max(width, len([]rune(r[1])))
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-9s %s%s  %s\n", r[0], r[1], strings.Repeat(" ", width-len([]rune(r[1]))), r[2])
	}
	return b.String()
}

// sayDuration says a duration in minutes and seconds: "1 min.", "45 sek.", "1 min 30 s".
func sayDuration(d time.Duration, min, sec string) string {
	d = d.Round(time.Second)
	m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
	var parts []string
	if m > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", m, min))
	}
	if s > 0 || m == 0 {
		parts = append(parts, fmt.Sprintf("%d %s", s, sec))
	}
	return strings.Join(parts, " ")
}

// follow prints how each alarm of the village goes on, from the api's event feed: taken,
// on the way, arrived, resolved, and escalated to the backup or central. Its subscription
// has no user, so it never counts as somebody listening (docs/alerts.md, "Nobody listening
// escalates at once"). It returns when ctx ends or the feed drops it.
func (p *printer) follow(ctx context.Context, feed *alerts.Feed, homes []demoHome) {
	byGateway := make(map[vagt.GatewayID]demoHome, len(homes))
	for _, h := range homes {
		byGateway[h.gateway] = h
	}
	sub := feed.Subscribe(api.Scope{All: true})
	defer sub.Close()
	for {
		var ev alerts.Event
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				return
			}
			ev = e
		}
		var d alerts.EventData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			continue
		}
		h, ok := byGateway[d.Alert.Gateway]
		if _, village := alarmNames[d.Alert.Type]; !ok || !village {
			continue
		}
		who := ""
		if d.Alert.Assignee != nil {
			who = d.Alert.Assignee.Name
		}
		var what string
		switch {
		case d.Change == "escalated" && d.Alert.Tier == alerts.TierBackup:
			what = "BAGVAGT  ubesvaret, nu hos bagvagten · unanswered, now with the backup on duty (backup token)"
		case d.Change == "escalated" && d.Alert.Tier == alerts.TierCentral:
			what = "CENTRAL  nu hos den centrale vagt · now with central on-call"
		case d.Change == "taken":
			what = "TAGET    " + who + " tager den · takes it"
		case d.Change == "enroute":
			what = "PÅ VEJ   " + who + " er på vej · is on the way"
		case d.Change == "arrived":
			what = "FREMME   " + who + " er fremme · has arrived"
		case d.Change == "resolved":
			what = "AFSLUTTET af · resolved by " + d.Alert.ResolvedBy + " (" + string(d.Alert.Outcome) + ")"
		default:
			continue
		}
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s alarm %d · %s · %s · %s: %s\n", ev.At.In(copenhagen).Format("15:04:05"), d.Alert.ID,
			districts[h.district].name, alarmNames[d.Alert.Type], h.citizen, what)
		p.mu.Unlock()
	}
}
