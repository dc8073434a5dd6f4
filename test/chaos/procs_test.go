package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binaries are the platform's and the gateway's programs, built for this run.
type binaries struct{ vagt, gateway string }

// buildBinaries builds ./cmd/vagt and ./cmd/vagt-gateway into a temporary directory, with
// the race detector when the suite runs with it (proc.check reads their logs for races).
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	b := binaries{vagt: filepath.Join(dir, "vagt"), gateway: filepath.Join(dir, "vagt-gateway")}
	for out, pkg := range map[string]string{b.vagt: "../../cmd/vagt", b.gateway: "../../cmd/vagt-gateway"} {
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

// proc is one of the chain's programs run as a process: Kill ends it with SIGKILL, as a
// crash or the OOM killer would, Start runs it again with the same arguments (the same
// ports, client ids, spool and database).
type proc struct {
	name string
	bin  string
	args []string
	log  string // stdout and stderr, appended over every run

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
}

func (p *proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.name)
	}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s start %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan error, 1)
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	return nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *proc) Kill() error { return p.end(syscall.SIGKILL) }

// Stop asks the process to shut down cleanly (SIGINT) and waits for it.
func (p *proc) Stop() error { return p.end(syscall.SIGINT) }

func (p *proc) end(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	var err error
	select {
	case err = <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		err = <-p.done
		err = fmt.Errorf("%s did not stop on %s within 60 s: %w", p.name, sig, err)
	}
	p.cmd = nil
	var exit *exec.ExitError
	if sig == syscall.SIGKILL && errors.As(err, &exit) {
		err = nil // killed, as asked
	}
	if err != nil {
		return fmt.Errorf("%s: %w (log %s)", p.name, err, p.log)
	}
	return nil
}

// PID is the running process's id, 0 while it is stopped.
func (p *proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// check reports the data races the race detector found in any run of the process (a run
// killed with SIGKILL still wrote what it found before).
func (p *proc) check(t *testing.T) {
	t.Helper()
	if n := countLines(p.log, "WARNING: DATA RACE"); n > 0 {
		t.Errorf("%s: %d data races (log %s):\n%s", p.name, n, p.log, tail(p.log, 60))
	}
}
