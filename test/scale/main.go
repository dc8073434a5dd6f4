// Command scale measures what a broker pays for real gateway connections (issue 20): one
// MQTT connection per gateway, each with TLS and its own client certificate made here, on
// Mosquitto and on the 3-node NATS cluster (test/localstack). Per broker it reports the
// memory per connection, TLS handshakes per second, and the reconnect storm — the broker
// restarted (Mosquitto) or its busiest node killed -9 and started (NATS) with every gateway
// connected: the time until 99 % and 100 % are back, while alarms are raised during the
// storm (their publish-to-consumer latency p50/p99/max, and how many were lost) — once with
// the gateways' full-jitter back-off and once without. `make scale` runs it; it is not part
// of `make test`. It raises its own file limit (children inherit it).
//
//	go run ./test/scale -gateways 5000 -brokers mosquitto,nats
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/internal/probe"
)

type options struct {
	gateways, parallel, alarms, handshakes int
	perProcess                             int
	brokers                                string
	maxBackoff, keepAlive, alarmEvery      time.Duration
	downtime                               time.Duration
	subscribe                              bool
	laneQoS                                int // the lanes' QoS: 1 as the gateway's default, or 0
	jsonOut                                string
	storms                                 string // which storms: jitter, plain
	nats                                   natsOptions
}

// result is one broker's figures.
type result struct {
	Broker           string  `json:"broker"`
	Gateways         int     `json:"gateways"`
	LoadBefore       string  `json:"load_average_before"`
	LoadAfter        string  `json:"load_average_after"`
	ConnectSeconds   float64 `json:"connect_seconds"`
	ConnectsPerSec   float64 `json:"connects_per_second"`
	SettledSeconds   float64 `json:"settled_seconds"` // until every node was healthy after the connects
	HandshakesPerSec float64 `json:"tls_handshakes_per_second"`
	RSSBeforeMB      float64 `json:"rss_before_mb"`
	RSSAfterMB       float64 `json:"rss_after_mb"`
	BytesPerConn     float64 `json:"bytes_per_connection"`
	// The lanes' QoS, and their SUBSCRIBEs refused (0x80) or unanswered: by the time every
	// gateway had connected, and over the whole run (every reconnect subscribes again).
	Lanes               bool     `json:"lanes_subscribed"`
	LaneQoS             int      `json:"lane_qos"`
	LaneFailuresConnect int64    `json:"lane_subscribe_failures_connect"`
	LaneFailures        int64    `json:"lane_subscribe_failures"`
	Storms              []*storm `json:"storms"`
}

type storm struct {
	Jitter     bool    `json:"jitter"`
	Fault      string  `json:"fault"`
	UpSec      float64 `json:"up_seconds,omitempty"` // from the fault until the killed node answered again (NATS)
	Dropped    int     `json:"dropped"`              // N − the fewest seen connected at one time (a lower bound on who dropped)
	Back99Sec  float64 `json:"back_99_seconds"`
	Back100Sec float64 `json:"back_100_seconds"`
	Alarms     int     `json:"alarms"`
	Lost       int     `json:"alarms_lost"`
	P50ms      float64 `json:"alarm_p50_ms"`
	P99ms      float64 `json:"alarm_p99_ms"`
	MaxMs      float64 `json:"alarm_max_ms"`
}

func main() {
	var o options
	flag.IntVar(&o.gateways, "gateways", 2000, "gateways, one TLS connection each")
	flag.IntVar(&o.parallel, "parallel", 100, "connects in flight while the fleet starts")
	flag.IntVar(&o.handshakes, "handshakes", 2000, "TLS handshakes for the handshake rate")
	flag.IntVar(&o.alarms, "alarms", 200, "alarms raised during each storm (at most)")
	flag.DurationVar(&o.alarmEvery, "alarm-every", 20*time.Millisecond, "time between the storm's alarms")
	flag.StringVar(&o.brokers, "brokers", "mosquitto,nats", "brokers to measure: mosquitto, nats, rabbitmq (3.10, quorum queues), rabbitmq-classic")
	flag.DurationVar(&o.maxBackoff, "max-backoff", 2*time.Minute, "the gateways' back-off ceiling (their default)")
	flag.DurationVar(&o.keepAlive, "keep-alive", 30*time.Second, "the gateways' keep-alive")
	flag.DurationVar(&o.downtime, "downtime", 0, "Mosquitto's storm: stop it this long before the start (0: a plain restart)")
	flag.BoolVar(&o.subscribe, "subscribe", true, "each gateway subscribes to its config and downlink lanes, as the real one does")
	flag.IntVar(&o.laneQoS, "lane-qos", 1, "the lanes' subscription QoS, as the gateway's --lane-qos: 1, or 0 (on NATS: no JetStream consumer per lane)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.StringVar(&o.storms, "storms", "jitter,plain", "which reconnect storms to deal: with the gateways' full jitter, with plain exponential back-off")
	flag.StringVar(&o.nats.mqtt, "nats-mqtt", "", "lines added to every NATS node's mqtt block, separated by ';' (e.g. 'consumer_memory_storage: true')")
	flag.StringVar(&o.nats.auth, "nats-auth", "callout", "how the NATS cluster authorizes: callout (vagt broker-auth, as production) or static (a users list of every gateway: to compare)")
	flag.StringVar(&o.nats.profileDir, "nats-profile", "", "write each node's CPU profile during the first storm (and a goroutine dump) into this directory")
	flag.DurationVar(&o.nats.profileFor, "nats-profile-for", 20*time.Second, "with -nats-profile: the profiles' length")
	flag.StringVar(&o.nats.kill, "nats-kill", "busiest", "which NATS node a storm kills: busiest (of nodes 1 and 2; node 3 holds the consumer) or sess-leader (the leader of the session stream $MQTT_sess, any node: the longest storm)")
	flag.BoolVar(&o.nats.debug, "nats-debug", false, "the NATS nodes log at debug level (their logs are kept in -nats-profile's directory)")
	flag.IntVar(&o.perProcess, "per-process", 9000, "gateways per process: more are spread over worker processes of this program (a process holds at most its file limit of connections)")
	worker := flag.Bool("worker", false, "internal: run as a worker process holding part of the fleet (spec and requests on stdin)")
	var co chainOptions
	chain := flag.Bool("chain", false, "instead: the chain under faults on the NATS cluster (ingest, InfluxDB, alarm consumer; kill -9, freeze and partition of a node)")
	flag.StringVar(&co.vagt, "vagt", "bin/vagt", "with -chain: the vagt binary (ingest)")
	flag.DurationVar(&co.duration, "duration", 90*time.Second, "with -chain: how long the load runs")
	flag.DurationVar(&co.hold, "hold", 15*time.Second, "with -chain: how long a node stays frozen, and one partitioned")
	flag.DurationVar(&co.interval, "interval", time.Second, "with -chain: each gateway's batch interval")
	flag.DurationVar(&co.alarmEvery, "chain-alarm-every", 50*time.Millisecond, "with -chain: time between alarms")
	flag.IntVar(&co.sensors, "sensors", 10, "with -chain: readings per batch")
	flag.DurationVar(&co.ackWait, "ack-wait", 0, "with -chain: the cluster's MQTT ack_wait; 0: localstack's default")
	flag.BoolVar(&co.noAuth, "chain-no-auth", false, "with -chain: plain MQTT, no TLS and no vagt broker-auth (to compare)")
	flag.Parse()
	co.gateways = o.gateways
	log.SetFlags(log.Ltime)
	if o.laneQoS != 0 && o.laneQoS != 1 {
		fmt.Fprintf(os.Stderr, "-lane-qos %d: 0 or 1\n", o.laneQoS)
		os.Exit(2)
	}

	raiseFileLimit()
	if *worker {
		if err := runWorker(os.Stdin, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "vagt-scale-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p, err := newPKI(dir)
	if err != nil {
		log.Fatal(err)
	}
	if *chain {
		if err := runChain(ctx, p, co); err != nil {
			log.Fatal(err)
		}
		return
	}
	// The fleet's certificates; with worker processes each issues its own, and this process
	// only those of the handshake measurement.
	nCerts := o.gateways
	if o.gateways > o.perProcess {
		nCerts = min(o.gateways, o.handshakes)
	}
	log.Printf("issuing %d client certificates", nCerts)
	certs := make([]*tls.Config, nCerts)
	for i := range certs {
		c, err := p.issue(string(load.GatewayID("load", i)))
		if err != nil {
			log.Fatal(err)
		}
		certs[i] = p.clientTLS(c)
	}
	var results []*result
	for _, name := range strings.Split(o.brokers, ",") {
		r, err := measure(ctx, name, p, certs, o)
		if err != nil {
			log.Printf("%s: %v", name, err)
		}
		if r != nil {
			results = append(results, r)
			print(r)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			log.Print(err)
		}
	}
}

// raiseFileLimit lifts the soft limit on open files to the hard one, and as root the hard
// one too (20,000 gateways need 20,000 descriptors here and as many in the broker).
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil {
		want := syscall.Rlimit{Cur: max(l.Max, 1<<20), Max: max(l.Max, 1<<20)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			l.Cur = l.Max
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
				log.Printf("file limit stays %d: %v", l.Cur, err)
			}
		}
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	fileLimit = int(min(l.Cur, 1<<30))
	log.Printf("file limit %d", l.Cur)
}

// fileLimit is this process's limit on open files, which its children (the brokers) inherit;
// fileMargin what a broker needs besides its connections (listeners, logs, persistence).
var fileLimit = 1 << 30

const fileMargin = 100

func measure(ctx context.Context, name string, p *pki, certs []*tls.Config, o options) (*result, error) {
	var (
		b   broker
		err error
	)
	switch name {
	case "mosquitto":
		b, err = startMosquitto(ctx, p, o.downtime)
	case "nats":
		b, err = startNATS(ctx, p, o.nats, o.gateways)
	case "rabbitmq", "rabbitmq-classic":
		b, err = startRabbit(ctx, p, o.gateways, map[string]string{"rabbitmq": "quorum", "rabbitmq-classic": "classic"}[name])
	default:
		return nil, fmt.Errorf("unknown broker %q", name)
	}
	if err != nil {
		return nil, err
	}
	defer b.close()
	if name == "mosquitto" && o.gateways > fileLimit-fileMargin {
		// Mosquitto is one process: a connection is a descriptor, and this machine's hard
		// limit per process cannot be raised. Measure the most it can hold, and say so.
		log.Printf("mosquitto: %d connections need more than one process's file limit (%d); measuring %d", o.gateways, fileLimit, fileLimit-fileMargin)
		o.gateways = fileLimit - fileMargin
	}
	r := &result{Broker: b.name(), Gateways: o.gateways, LoadBefore: probe.LoadAvg(), Lanes: o.subscribe, LaneQoS: o.laneQoS}
	defer func() { r.LoadAfter = probe.LoadAvg() }()
	r.HandshakesPerSec = handshakeRate(b.tlsAddr(), certs, o.handshakes, o.parallel)
	log.Printf("%s: %.0f TLS handshakes/s", name, r.HandshakesPerSec)

	rec, err := newReceiver(b)
	if err != nil {
		return r, err
	}
	defer rec.close()
	r.RSSBeforeMB = float64(rss(b.pids())) / (1 << 20)
	start := time.Now()
	var f fleet
	if o.gateways > o.perProcess {
		var m *multiFleet
		m, err = startWorkers(ctx, o.gateways, o.perProcess, workerSpec{Dir: p.dir, URLs: b.gatewayURLs(0), Parallel: o.parallel,
			KeepAlive: o.keepAlive, MaxBackoff: o.maxBackoff, Subscribe: o.subscribe, LaneQoS0: o.laneQoS == 0})
		if m != nil {
			f = m
		}
	} else {
		var lf *load.Fleet
		lf, err = load.StartFleet(ctx, load.FleetConfig{Gateways: o.gateways, Prefix: "load", Parallel: o.parallel,
			Brokers: b.gatewayURLs(0), BrokersFor: b.gatewayURLs, TLS: func(i int) *tls.Config { return certs[i] },
			KeepAlive: o.keepAlive, MaxBackoff: o.maxBackoff, Subscribe: o.subscribe, LaneQoS0: o.laneQoS == 0})
		if lf != nil {
			f = localFleet{lf}
		}
	}
	if f != nil {
		defer f.Close()
		// Runs before Close, on every way out: a run cut short reports its refusals too.
		defer func() { r.LaneFailures = f.SubscribeFailures() }()
	}
	if err != nil {
		return r, err
	}
	r.ConnectSeconds = time.Since(start).Seconds()
	r.ConnectsPerSec = float64(o.gateways) / r.ConnectSeconds
	waitUntil(ctx, time.Minute, func() bool { return f.Connected() == o.gateways })
	// On NATS a gateway's subscriptions are JetStream consumers, created (and replicated)
	// after its SUBACK: the memory is read once every node is healthy again.
	if err := b.healthy(ctx); err != nil {
		return r, err
	}
	r.SettledSeconds = time.Since(start).Seconds()
	r.LaneFailuresConnect = f.SubscribeFailures()
	time.Sleep(2 * time.Second) // let the broker settle before reading its memory
	r.RSSAfterMB = float64(rss(b.pids())) / (1 << 20)
	r.BytesPerConn = (r.RSSAfterMB - r.RSSBeforeMB) * (1 << 20) / float64(o.gateways)
	log.Printf("%s: %d connected in %.1fs, healthy after %.1fs; RSS %.0f → %.0f MB", name, o.gateways, r.ConnectSeconds, r.SettledSeconds, r.RSSBeforeMB, r.RSSAfterMB)

	for _, jitter := range []bool{true, false} {
		if !slices.Contains(strings.Split(o.storms, ","), map[bool]string{true: "jitter", false: "plain"}[jitter]) {
			continue
		}
		if err := b.healthy(ctx); err != nil {
			return r, err
		}
		f.SetJitter(jitter)
		s, err := runStorm(ctx, b, f, rec, o)
		if s != nil {
			s.Jitter = jitter
			r.Storms = append(r.Storms, s)
		}
		if err != nil {
			return r, err
		}
		if err := b.healthy(ctx); err != nil { // the killed node's start, timed
			return r, err
		}
		if rt, ok := b.(restartTimer); ok {
			s.UpSec = rt.lastUp().Seconds()
		}
		log.Printf("%s storm (jitter %t): %+v", name, jitter, *s)
		// Wait until every gateway is back before the next storm.
		waitUntil(ctx, 5*time.Minute, func() bool { return f.Connected() == o.gateways })
		time.Sleep(3 * time.Second)
	}
	return r, nil
}

// handshakeRate does n TLS handshakes with client certificates, parallel at a time.
func handshakeRate(addr string, certs []*tls.Config, n, parallel int) float64 {
	var wg sync.WaitGroup
	next := make(chan int)
	start := time.Now()
	for range parallel {
		wg.Go(func() {
			for i := range next {
				c, err := tls.Dial("tcp", addr, certs[i%len(certs)])
				if err == nil {
					c.Close()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func waitUntil(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// runStorm deals the broker's fault with every gateway connected, raises alarms on random
// gateways while they come back, and measures.
func runStorm(ctx context.Context, b broker, f fleet, rec *receiver, o options) (*storm, error) {
	n := f.Gateways()
	s := &storm{}
	t0 := time.Now()
	stormDone := make(chan struct{})
	type sent struct {
		key string
		at  time.Time
	}
	var (
		mu    sync.Mutex
		sents []sent
		wg    sync.WaitGroup
	)
	wg.Go(func() { // alarms during the storm, one every alarmEvery, until all are back
		rng := rand.New(rand.NewPCG(1, 2))
		for k := 0; k < o.alarms; k++ {
			select {
			case <-stormDone:
				return
			case <-time.After(o.alarmEvery):
			}
			i := rng.IntN(n)
			at := time.Now()
			seq, err := f.Alarm(i, at)
			if err != nil {
				log.Print(err)
				continue
			}
			mu.Lock()
			sents = append(sents, sent{fmt.Sprintf("%s/%d", f.ID(i), seq), at})
			mu.Unlock()
		}
	})
	fault, err := b.fault(ctx)
	s.Fault = fault
	if err != nil {
		close(stormDone)
		wg.Wait()
		return s, err
	}
	if ob, ok := b.(stormObserver); ok {
		wg.Go(func() { ob.observe(ctx, t0, f, stormDone) })
	}
	low := n
	var back99, back100 time.Duration
	deadline := t0.Add(10 * time.Minute)
	seenDrop := false
	for ctx.Err() == nil && time.Now().Before(deadline) {
		c := f.Connected()
		if c < n {
			seenDrop = true
		}
		low = min(low, c)
		if seenDrop && back99 == 0 && c*100 >= n*99 && low*100 < n*99 {
			back99 = time.Since(t0)
		}
		if seenDrop && c == n {
			back100 = time.Since(t0)
			break
		}
		if !seenDrop && time.Since(t0) > 30*time.Second {
			break // nobody noticed the fault
		}
		time.Sleep(20 * time.Millisecond)
	}
	if back99 == 0 {
		back99 = back100 // fewer than 1 % dropped
	}
	close(stormDone)
	wg.Wait()
	s.Dropped, s.Back99Sec, s.Back100Sec = n-low, back99.Seconds(), back100.Seconds()

	// Every alarm must arrive; give the stragglers two minutes.
	var lat []time.Duration
	waitUntil(ctx, 2*time.Minute, func() bool {
		lat, s.Lost = nil, 0
		for _, x := range sents {
			if at, ok := rec.at(x.key); ok {
				lat = append(lat, at.Sub(x.at))
			} else {
				s.Lost++
			}
		}
		return s.Lost == 0
	})
	s.Alarms = len(sents)
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
		s.P50ms, s.P99ms, s.MaxMs = q(0.5), q(0.99), float64(lat[len(lat)-1])/1e6
	}
	return s, nil
}

// receiver is the platform side: a persistent-session consumer of every alarm that notes
// when each (gateway, seq) first arrived.
type receiver struct {
	c       mqtt.Client
	mu      sync.Mutex
	arrived map[string]time.Time
	copies  int // deliveries of an alarm already arrived (at least once; the api folds them by gateway and seq)
}

// consumerID is the receiver's client id: in svc_api's client ids, as vagt broker-auth
// requires of the certificate it presents.
const consumerID = "vagt-api-scale-consumer"

func newReceiver(b broker) (*receiver, error) {
	r := &receiver{arrived: map[string]time.Time{}}
	urls, tc := b.consumer()
	o := mqtt.NewClientOptions().SetClientID(consumerID).SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(100 * time.Millisecond).SetConnectRetry(true).
		SetOnConnectHandler(func(c mqtt.Client) { c.Subscribe("vagt/v1/gw/+/alarm", 1, r.onAlarm) })
	for _, u := range urls {
		o.AddBroker(u)
	}
	if tc != nil {
		o.SetTLSConfig(tc)
	}
	r.c = mqtt.NewClient(o)
	if tok := r.c.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		return nil, fmt.Errorf("consumer: %v", tok.Error())
	}
	return r, nil
}

func (r *receiver) onAlarm(_ mqtt.Client, m mqtt.Message) {
	a, err := vagt.DecodeAlarm(m.Payload())
	if err != nil {
		return
	}
	key := fmt.Sprintf("%s/%d", a.Gateway, a.Seq)
	now := time.Now()
	r.mu.Lock()
	if _, ok := r.arrived[key]; !ok {
		r.arrived[key] = now
	} else {
		r.copies++
	}
	r.mu.Unlock()
}

func (r *receiver) at(key string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.arrived[key]
	return t, ok
}

func (r *receiver) close() { r.c.Disconnect(100) }

func print(r *result) {
	fmt.Printf("\n== %s, %d gateways (load average %s → %s)\n", r.Broker, r.Gateways, r.LoadBefore, r.LoadAfter)
	fmt.Printf("TLS handshakes/s (client certificates): %.0f\n", r.HandshakesPerSec)
	if r.SettledSeconds == 0 { // the run ended before (its error is logged)
		fmt.Printf("connect all (TLS + CONNECT + SUBSCRIBE): %.1f s; the broker was not healthy afterwards: memory not measured, no storm\n", r.ConnectSeconds)
	} else {
		fmt.Printf("connect all (TLS + CONNECT + SUBSCRIBE): %.1f s, %.0f/s; broker healthy after %.1f s\n", r.ConnectSeconds, r.ConnectsPerSec, r.SettledSeconds)
		fmt.Printf("broker RSS: %.0f MB idle → %.0f MB connected: %.1f KiB per connection\n", r.RSSBeforeMB, r.RSSAfterMB, r.BytesPerConn/1024)
	}
	if r.Lanes {
		fmt.Printf("lane SUBSCRIBEs (QoS %d) refused or unanswered: %d by the time all had connected, %d over the run\n", r.LaneQoS, r.LaneFailuresConnect, r.LaneFailures)
	} else {
		fmt.Printf("lanes not subscribed (-subscribe=false)\n")
	}
	if r.LaneFailures > 0 {
		fmt.Printf("!! LANES REFUSED: %d lane SUBSCRIBEs failed; this run did not measure the real gateway's load\n", r.LaneFailures)
	}
	for _, s := range r.Storms {
		fmt.Printf("storm, jitter %-5t: %s; at least %d down at once; 99%% back %.1f s, 100%% %.1f s; alarms %d, lost %d, latency p50 %.0f ms p99 %.0f ms max %.0f ms\n",
			s.Jitter, s.Fault, s.Dropped, s.Back99Sec, s.Back100Sec, s.Alarms, s.Lost, s.P50ms, s.P99ms, s.MaxMs)
		if s.UpSec > 0 {
			fmt.Printf("  the killed node answered again %.1f s after the kill\n", s.UpSec)
		}
	}
}
