package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
)

// fleet is what a measurement needs of its gateways: one connection each, held in this
// process (a *load.Fleet) or spread over worker processes. A process holds at most its file
// limit of connections, and this machine's hard limit (20,000) cannot be raised: 20,000
// gateways need two processes.
type fleet interface {
	Gateways() int
	Connected() int
	ID(i int) vagt.GatewayID
	SetJitter(on bool)
	Alarm(i int, at time.Time) (uint64, error)
	// SubscribeFailures counts the lane SUBSCRIBEs refused or unanswered so far.
	SubscribeFailures() int64
	Close()
}

// localFleet is a fleet in this process.
type localFleet struct{ *load.Fleet }

func (f localFleet) Alarm(i int, at time.Time) (uint64, error) {
	seq, _, err := f.Fleet.Alarm(i, at)
	return seq, err
}

// workerSpec is what a worker process is told on its first line of input: which gateways
// it holds and how they connect.
type workerSpec struct {
	Dir        string   // the run's PKI directory (ca.pem, ca.key)
	First      int      // index of its first gateway
	Count      int      // how many
	URLs       []string // the broker's URLs as gateway 0 lists them; gateway i rotates them by i
	Parallel   int
	KeepAlive  time.Duration
	MaxBackoff time.Duration
	Subscribe  bool
	LaneQoS0   bool
}

// workerRequest and workerReply are the lines that follow, one reply per request.
type workerRequest struct {
	Op string `json:"op"` // connected, jitter, alarm, subscribe-failures
	On bool   `json:"on,omitempty"`
	I  int    `json:"i,omitempty"` // the worker's own index of the gateway
	At int64  `json:"at,omitempty"`
}

type workerReply struct {
	N   int    `json:"n,omitempty"`
	Seq uint64 `json:"seq,omitempty"`
	Err string `json:"err,omitempty"`
}

// rotate is gateway i's broker list: urls rotated by i, as natsBroker.gatewayURLs does.
func rotate(urls []string, i int) []string {
	out := make([]string, len(urls))
	for k := range urls {
		out[k] = urls[(i+k)%len(urls)]
	}
	return out
}

// runWorker is the process started with -worker: it reads its spec, issues its gateways'
// certificates, connects them, answers "ready" and then the parent's requests, and closes
// its gateways when its input ends.
func runWorker(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	if !sc.Scan() {
		return errors.New("worker: no spec")
	}
	var spec workerSpec
	if err := json.Unmarshal(sc.Bytes(), &spec); err != nil {
		return fmt.Errorf("worker: spec: %w", err)
	}
	p, err := loadPKI(spec.Dir, int64(1_000_000+spec.First))
	if err != nil {
		return err
	}
	certs := make([]*tls.Config, spec.Count)
	for k := range certs {
		c, err := p.issue(string(load.GatewayID("load", spec.First+k)))
		if err != nil {
			return err
		}
		certs[k] = p.clientTLS(c)
	}
	enc := json.NewEncoder(out)
	f, err := load.StartFleet(context.Background(), load.FleetConfig{Gateways: spec.Count, First: spec.First, Prefix: "load",
		Parallel: spec.Parallel, Brokers: spec.URLs, BrokersFor: func(i int) []string { return rotate(spec.URLs, i) },
		TLS: func(i int) *tls.Config { return certs[i-spec.First] }, KeepAlive: spec.KeepAlive, MaxBackoff: spec.MaxBackoff,
		Subscribe: spec.Subscribe, LaneQoS0: spec.LaneQoS0})
	ready := workerReply{}
	if f != nil {
		defer f.Close()
		ready.N = f.Connected()
	}
	if err != nil {
		ready.Err = err.Error()
	}
	if err := enc.Encode(ready); err != nil {
		return err
	}
	return serveWorker(sc, enc, f)
}

// serveWorker answers the parent's requests about f (nil: it did not start), one reply per
// line, until the input ends.
func serveWorker(sc *bufio.Scanner, enc *json.Encoder, f *load.Fleet) error {
	for sc.Scan() {
		var req workerRequest
		var rep workerReply
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			rep.Err = err.Error()
		} else if f != nil {
			switch req.Op {
			case "connected":
				rep.N = f.Connected()
			case "jitter":
				f.SetJitter(req.On)
			case "subscribe-failures":
				rep.N = int(f.SubscribeFailures())
			case "alarm":
				if req.I < 0 || req.I >= f.Gateways() {
					rep.Err = fmt.Sprintf("no gateway %d", req.I)
					break
				}
				seq, _, err := f.Alarm(req.I, time.Unix(0, req.At))
				rep.Seq = seq
				if err != nil {
					rep.Err = err.Error()
				}
			default:
				rep.Err = "unknown op " + req.Op
			}
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	return sc.Err()
}

// worker is the parent's end of one worker process.
type worker struct {
	first, count int
	cmd          *exec.Cmd
	mu           sync.Mutex // one request at a time
	in           io.WriteCloser
	out          *bufio.Scanner
}

func (w *worker) call(req workerRequest) (workerReply, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, _ := json.Marshal(req)
	if _, err := w.in.Write(append(b, '\n')); err != nil {
		return workerReply{}, err
	}
	return w.read()
}

func (w *worker) read() (workerReply, error) {
	var rep workerReply
	if !w.out.Scan() {
		return rep, fmt.Errorf("worker %d: %v", w.first, w.out.Err())
	}
	if err := json.Unmarshal(w.out.Bytes(), &rep); err != nil {
		return rep, err
	}
	if rep.Err != "" {
		return rep, errors.New(rep.Err)
	}
	return rep, nil
}

// multiFleet is a fleet spread over worker processes, gateways [k·per, (k+1)·per) in worker k.
type multiFleet struct {
	n, per  int
	workers []*worker
}

// startWorkers starts ceil(n/per) worker processes of this program and returns once each has
// connected its gateways (or failed to, with the fleet so far, which the caller closes).
func startWorkers(ctx context.Context, n, per int, spec workerSpec) (*multiFleet, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	m := &multiFleet{n: n, per: per}
	parts := (n + per - 1) / per
	spec.Parallel = max(1, spec.Parallel/parts)
	for first := 0; first < n; first += per {
		s := spec
		s.First, s.Count = first, min(per, n-first)
		cmd := exec.CommandContext(ctx, self, "-worker")
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			m.Close()
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			m.Close()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			m.Close()
			return nil, err
		}
		w := &worker{first: s.First, count: s.Count, cmd: cmd, in: in, out: bufio.NewScanner(out)}
		m.workers = append(m.workers, w)
		b, _ := json.Marshal(s)
		if _, err := in.Write(append(b, '\n')); err != nil {
			return m, err
		}
	}
	var errs []error
	for _, w := range m.workers { // each answers once its gateways are connected
		if _, err := w.read(); err != nil {
			errs = append(errs, fmt.Errorf("worker of gateways %d-%d: %w", w.first, w.first+w.count-1, err))
		}
	}
	log.Printf("fleet: %d gateways in %d worker processes", n, len(m.workers))
	return m, errors.Join(errs...)
}

func (m *multiFleet) Gateways() int { return m.n }

func (m *multiFleet) Connected() int {
	n := 0
	for _, w := range m.workers {
		rep, err := w.call(workerRequest{Op: "connected"})
		if err == nil {
			n += rep.N
		}
	}
	return n
}

// SubscribeFailures sums the workers' counts; a worker that does not answer is logged, and
// its count is missing from the sum.
func (m *multiFleet) SubscribeFailures() int64 {
	var n int64
	for _, w := range m.workers {
		rep, err := w.call(workerRequest{Op: "subscribe-failures"})
		if err != nil {
			log.Printf("worker %d: subscribe-failures: %v", w.first, err)
			continue
		}
		n += int64(rep.N)
	}
	return n
}

func (m *multiFleet) ID(i int) vagt.GatewayID { return load.GatewayID("load", i) }

func (m *multiFleet) SetJitter(on bool) {
	for _, w := range m.workers {
		if _, err := w.call(workerRequest{Op: "jitter", On: on}); err != nil {
			log.Printf("worker %d: jitter: %v", w.first, err)
		}
	}
}

func (m *multiFleet) Alarm(i int, at time.Time) (uint64, error) {
	w := m.workers[i/m.per]
	rep, err := w.call(workerRequest{Op: "alarm", I: i - w.first, At: at.UnixNano()})
	return rep.Seq, err
}

// Close ends each worker's input; the worker disconnects its gateways and exits.
func (m *multiFleet) Close() {
	for _, w := range m.workers {
		w.in.Close()
	}
	for _, w := range m.workers {
		done := make(chan error, 1)
		go func() { done <- w.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = w.cmd.Process.Kill()
			<-done
		}
	}
}
