package alarmprop

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

// binaries are the platform's and the gateway's programs, built for this run.
type binaries struct{ vagt, gateway string }

// buildBinaries builds ./cmd/vagt and ./cmd/vagt-gateway into a temporary directory, with
// the race detector when the test runs with it (proc.check reads their logs for races).
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

// proc is a program run as a process that the test can kill with SIGKILL and start again
// with the same arguments and environment.
type proc struct {
	name string
	bin  string
	args []string
	env  []string // added to the test's environment
	log  string   // stdout and stderr, appended over every run

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan error
	exited chan struct{} // closed when the current run's process has ended
	runs   int
}

// Exited reports whether the process the test started has ended on its own (or was ended),
// without waiting: a wait for a process that is gone fails at once rather than at its limit.
func (p *proc) Exited() bool {
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
	p.runs++
	fmt.Fprintf(logf, "=== %s start %d %s\n", p.name, p.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.done, p.exited = cmd, make(chan error, 1), exited
	go func() { err := cmd.Wait(); close(exited); p.done <- err; logf.Close() }()
	return nil
}

// Running reports whether the process was started and not yet ended by the test.
func (p *proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
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

// check reports the data races the race detector found in any run of the process.
func (p *proc) check(t *testing.T) {
	t.Helper()
	if n := countLines(p.log, "WARNING: DATA RACE"); n > 0 {
		t.Errorf("%s: %d data races (log %s):\n%s", p.name, n, p.log, tail(p.log, 60))
	}
}

// countLines is how many lines of a file contain s.
func countLines(path, s string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), s)
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
