package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrClosed is returned by Start and Restart after Close.
var ErrClosed = errors.New("localstack: service closed")

// service is what the three services share: a temporary directory, one
// child process and the lifecycle methods. Its exported methods are
// promoted to Mosquitto, InfluxDB and Postgres.
type service struct {
	mu     sync.Mutex // serialises the lifecycle; held across a start's readiness wait
	dir    string
	keep   bool // dir is the caller's: Close leaves it
	proc   process
	closed bool
	// launch writes the configuration, starts the program and waits until it
	// answers, retrying as it sees fit; called with mu held.
	launch func(ctx context.Context) error
}

// serviceConfig is what a service tells newService.
type serviceConfig struct {
	name        string
	baseDir     string // parent of the temporary directory; "" is os.TempDir()
	dataDir     string // a fixed directory instead, kept by Close (the demo's ./var)
	stopSignal  syscall.Signal
	stopTimeout time.Duration
	logger      *slog.Logger
}

func newService(c serviceConfig) (*service, error) {
	dir, err := c.dataDir, error(nil)
	if dir != "" {
		err = os.MkdirAll(dir, 0o755)
	} else {
		dir, err = os.MkdirTemp(c.baseDir, "vagt-"+c.name+"-")
	}
	if err != nil {
		return nil, fmt.Errorf("localstack: directory for %s: %w", c.name, err)
	}
	if c.stopTimeout <= 0 {
		c.stopTimeout = defaultStopTimeout
	}
	logger := nopLogger(c.logger).With("service", c.name)
	return &service{
		dir:  dir,
		keep: c.dataDir != "",
		proc: process{
			name:        c.name,
			logPath:     filepath.Join(dir, c.name+".log"),
			dir:         dir,
			stopSignal:  c.stopSignal,
			stopTimeout: c.stopTimeout,
			logger:      logger,
		},
	}, nil
}

// Dir is the temporary directory holding the service's configuration, data
// and log. Close removes it.
func (s *service) Dir() string { return s.dir }

// LogPath is the service's log file; LogTail returns its end.
func (s *service) LogPath() string { return s.proc.logPath }

// LogTail returns the last lines the service logged, across all its runs,
// for printing when a test fails.
func (s *service) LogTail() string { return s.proc.logTail() }

// Running reports whether the service's process is running.
func (s *service) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.running()
}

// PID is the service's process id, 0 when it is not running; chaos tests
// use it to send other signals (SIGSTOP, say).
func (s *service) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.proc.running() {
		return 0
	}
	return s.proc.run.cmd.Process.Pid
}

// Start starts the service again after Stop or Kill, on the same port and
// with the same data. It does nothing when the service is running.
func (s *service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.proc.running() {
		return nil
	}
	return s.launch(ctx)
}

// Restart stops the service cleanly and starts it again on the same port
// with the same data.
func (s *service) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.proc.stop(); err != nil {
		return err
	}
	return s.launch(ctx)
}

// Stop shuts the service down cleanly (its stop signal, then SIGKILL after
// the stop timeout) and keeps its data for a later Start.
func (s *service) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.stop()
}

// Kill ends the service (its whole process group) with SIGKILL, as a crash
// would, and keeps its data for a later Start. It is not a power cut: what
// the program had written is in the kernel's cache and survives.
func (s *service) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.kill()
}

// Close stops the service and removes its directory. It is safe to call
// more than once.
func (s *service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	stopErr := s.proc.stop()
	if stopErr != nil {
		stopErr = errors.Join(stopErr, s.proc.kill())
	}
	var rmErr error
	if !s.keep {
		rmErr = os.RemoveAll(s.dir)
	}
	if rmErr != nil {
		rmErr = fmt.Errorf("localstack: remove %s: %w", s.dir, rmErr)
	}
	return errors.Join(stopErr, rmErr)
}

// startRetrying runs start (spawn and wait until ready) and, when the
// program reports a start conflict (startConflicts), kills what is left and tries again,
// after repick chose new ports (repick nil keeps them, as a restart must).
func (s *service) startRetrying(ctx context.Context, repick func() error, start func(context.Context) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = start(ctx)
		if err == nil {
			return nil
		}
		if killErr := s.proc.kill(); killErr != nil {
			return errors.Join(err, killErr)
		}
		if attempt == startAttempts || ctx.Err() != nil || !s.proc.logMentions(startConflicts...) {
			return err
		}
		s.proc.logger.Info("start collided with a port in use or a dying predecessor, retrying", "attempt", attempt)
		if repick != nil {
			if err := repick(); err != nil {
				return err
			}
		} else {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
	}
}

// withStartTimeout bounds a start by the service's start timeout.
func withStartTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = defaultStartTimeout
	}
	return context.WithTimeout(ctx, d)
}
