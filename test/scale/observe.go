package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// stormObserver is a broker that can say where its time goes while the gateways come back.
type stormObserver interface {
	// observe logs what the broker does every few seconds from the fault (t0) until stop
	// closes, and returns when it has.
	observe(ctx context.Context, t0 time.Time, f fleet, stop <-chan struct{})
}

// nodeSample is what a node's /varz and /jsz say of it at one moment.
type nodeSample struct {
	Connections int     `json:"connections"`
	CPU         float64 `json:"cpu"`
	Mem         int64   `json:"mem"`
	JetStream   struct {
		Stats struct {
			HAAssets int `json:"ha_assets"`
			API      struct {
				Total  int64 `json:"total"`
				Errors int64 `json:"errors"`
			} `json:"api"`
		} `json:"stats"`
		Meta struct {
			Leader  string `json:"leader"`
			Pending int    `json:"pending"`
		} `json:"meta"`
	} `json:"jetstream"`
}

func sampleNode(monitor string) (nodeSample, error) {
	var s nodeSample
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(monitor + "/varz")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// streamLeaders is what a node's /jsz says of who leads the streams (by name; the MQTT
// streams are in the global account) and the meta layer.
func streamLeaders(monitor string) (map[string]string, string, error) {
	var jsz struct {
		Meta struct {
			Leader string `json:"leader"`
		} `json:"meta_cluster"`
		Accounts []struct {
			Streams []struct {
				Name    string `json:"name"`
				Cluster struct {
					Leader string `json:"leader"`
				} `json:"cluster"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(monitor + "/jsz?streams=true")
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		return nil, "", err
	}
	led := map[string]string{}
	for _, a := range jsz.Accounts {
		for _, st := range a.Streams {
			if st.Cluster.Leader != "" {
				led[st.Name] = st.Cluster.Leader
			}
		}
	}
	return led, jsz.Meta.Leader, nil
}

// observe logs, every 5 s of the storm, how many gateways are back and each node's
// connections, CPU, memory, Raft groups (ha_assets), JetStream API requests served since the
// last line and the meta layer's leader and backlog; the callout's requests and service
// time when the cluster has one; and, with -nats-profile, takes each node's CPU profile
// from 2 s into the storm (the killed node's once it answers again).
func (b *natsBroker) observe(ctx context.Context, t0 time.Time, f fleet, stop <-chan struct{}) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if b.o.profileDir != "" && !b.profiled {
		b.profiled = true
		for _, n := range b.c.Nodes() {
			wg.Go(func() { b.profile(ctx, n.Name(), n.ProfileURL(), stop) })
		}
	}
	prevAPI := map[string]int64{}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var line strings.Builder
		fmt.Fprintf(&line, "storm +%3.0fs: %d of %d connected", time.Since(t0).Seconds(), f.Connected(), f.Gateways())
		for _, n := range b.c.Nodes() {
			s, err := sampleNode(n.MonitorURL())
			if err != nil {
				fmt.Fprintf(&line, " | %s down", n.Name())
				continue
			}
			api := s.JetStream.Stats.API.Total
			fmt.Fprintf(&line, " | %s conns %d cpu %.0f%% rss %d MB raft %d api +%d meta-leader %s pending %d",
				n.Name(), s.Connections, s.CPU, s.Mem>>20, s.JetStream.Stats.HAAssets, api-prevAPI[n.Name()],
				s.JetStream.Meta.Leader, s.JetStream.Meta.Pending)
			prevAPI[n.Name()] = api
		}
		if t := b.c.timing; t != nil {
			fmt.Fprintf(&line, " | callout %s", t.take())
		}
		log.Print(line.String())
	}
}

// profile fetches a node's CPU profile, retrying while the node is down, and a dump of
// its goroutines at the end.
func (b *natsBroker) profile(ctx context.Context, name, url string, stop <-chan struct{}) {
	select {
	case <-time.After(2 * time.Second):
	case <-stop:
		return
	}
	c := http.Client{Timeout: b.o.profileFor + 30*time.Second}
	get := func(path, file string) bool {
		resp, err := c.Get(url + path)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		out, err := os.Create(filepath.Join(b.o.profileDir, file))
		if err != nil {
			log.Print(err)
			return true
		}
		defer out.Close()
		_, _ = io.Copy(out, resp.Body)
		return true
	}
	for ctx.Err() == nil {
		if get(fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(b.o.profileFor.Seconds())), "storm-"+name+".cpu.pprof") {
			get("/debug/pprof/goroutine?debug=1", "storm-"+name+".goroutines.txt")
			log.Printf("%s: CPU profile of the storm written to %s", name, b.o.profileDir)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
