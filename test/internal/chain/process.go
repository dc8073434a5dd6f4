// Package chain holds what the whole-chain suites (test/chaos, test/alarmprop) share: the
// platform's and the gateway's binaries built for the run, each program run as a process
// that a suite can kill with SIGKILL and start again, and a TCP relay that cuts a
// gateway's uplink.
package chain

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binaries are the platform's and the gateway's programs, built for this run.
type Binaries struct{ Vagt, Gateway string }

// Build builds cmd/vagt and cmd/vagt-gateway into a temporary directory, with the race
// detector when the test runs with it (Process.CheckRaces reads their logs for races).
func Build(t *testing.T) Binaries {
	t.Helper()
	dir := t.TempDir()
	b := Binaries{Vagt: filepath.Join(dir, "vagt"), Gateway: filepath.Join(dir, "vagt-gateway")}
	for out, pkg := range map[string]string{b.Vagt: "github.com/vagt-dk/vagt/cmd/vagt", b.Gateway: "github.com/vagt-dk/vagt/cmd/vagt-gateway"} {
		args := []string{"build", "-o", out}
		if raceBuild {
			args = append(args, "-race")
		}
		if msg, err := exec.Command("go", append(args, pkg)...).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
		}
	}
	return b
}

// Process is one of the chain's programs run as a process: Kill ends it with SIGKILL, as
// a crash or the OOM killer would, Start runs it again with the same arguments and
// environment (the same ports, client ids, spool and database).
type Process struct {
	Name string
	Bin  string
	Args []string
	Env  []string // added to the test's environment
	Log  string   // stdout and stderr, appended over every run

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan error
	exited chan struct{} // closed when the current run's process has ended
	runs   int
}

// Start runs the program; it fails when it is already running.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.Name)
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	p.runs++
	fmt.Fprintf(logf, "=== %s start %d %s\n", p.Name, p.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.done, p.exited = cmd, make(chan error, 1), exited
	go func() { err := cmd.Wait(); close(exited); p.done <- err; logf.Close() }()
	return nil
}

// Running reports whether the process was started and not yet ended by the test.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Exited reports whether the process the test started has ended on its own (or was ended),
// without waiting: a wait for a process that is gone fails at once rather than at its limit.
func (p *Process) Exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() error { return p.end(syscall.SIGKILL) }

// Stop asks the process to shut down cleanly (SIGINT) and waits for it.
func (p *Process) Stop() error { return p.end(syscall.SIGINT) }

func (p *Process) end(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	var err error
	select {
	case err = <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		err = <-p.done
		err = fmt.Errorf("%s did not stop on %s within 60 s: %w", p.Name, sig, err)
	}
	p.cmd = nil
	var exit *exec.ExitError
	if sig == syscall.SIGKILL && errors.As(err, &exit) {
		err = nil // killed, as asked
	}
	if err != nil {
		return fmt.Errorf("%s: %w (log %s)", p.Name, err, p.Log)
	}
	return nil
}

// PID is the running process's id, 0 while it is stopped.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// CheckRaces reports the data races the race detector found in any run of the process (a
// run killed with SIGKILL still wrote what it found before).
func (p *Process) CheckRaces(t *testing.T) {
	t.Helper()
	if n := CountLines(p.Log, "WARNING: DATA RACE"); n > 0 {
		t.Errorf("%s: %d data races (log %s):\n%s", p.Name, n, p.Log, Tail(p.Log, 60))
	}
}

// CountLines is how many lines of a file contain s.
func CountLines(path, s string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), s)
}

// Tail is the last n lines of a file.
func Tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
