package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Defaults shared by all services.
const (
	defaultStartTimeout = 60 * time.Second
	defaultStopTimeout  = 10 * time.Second
	logTailBytes        = 16 << 10
	logTailLines        = 60
	startAttempts       = 3
)

// process runs one service program at a time and owns the goroutine that
// waits for it. It is not safe for concurrent use; each service serialises
// calls with its own mutex.
type process struct {
	name        string // for messages: "mosquitto", "influxd", "postgres"
	logPath     string // the program's stdout and stderr, appended across runs
	dir         string // working directory
	stopSignal  syscall.Signal
	stopTimeout time.Duration
	cred        *syscall.Credential // run as this user; nil means as ourselves
	env         []string            // nil inherits ours
	logger      *slog.Logger

	run       *run  // the current or last run; nil before the first start
	runOffset int64 // log size before the current run, so its messages can be told apart
}

// run is one execution of the program.
type run struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited and been reaped
	err  error         // cmd.Wait's result; read it only after done is closed
}

// start launches the program. The caller waits for readiness itself and
// calls stop or kill when that fails.
func (p *process) start(path string, args ...string) error {
	if p.running() {
		return fmt.Errorf("localstack: %s is already running (pid %d)", p.name, p.run.cmd.Process.Pid)
	}
	logFile, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("localstack: open %s log: %w", p.name, err)
	}
	// The child gets the file descriptor itself: no copying goroutine, and the
	// log survives our crash.
	defer logFile.Close()
	if fi, err := logFile.Stat(); err == nil {
		p.runOffset = fi.Size()
	}
	fmt.Fprintf(logFile, "--- localstack %s: %s %s\n",
		time.Now().Format(time.RFC3339Nano), path, strings.Join(args, " "))

	cmd := exec.Command(path, args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(p.cred)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("localstack: start %s: %w", p.name, err)
	}
	r := &run{cmd: cmd, done: make(chan struct{})}
	p.run = r
	go func() {
		// Owned by process: it ends when the child exits, and every path that
		// gives up on a child (stop, kill) kills it first and waits for done.
		r.err = cmd.Wait()
		close(r.done)
	}()
	p.logger.Debug("started", "pid", cmd.Process.Pid, "args", args)
	return nil
}

// exited returns a channel closed when the current run ends; nil (blocks
// forever) when nothing was started.
func (p *process) exited() <-chan struct{} {
	if p.run == nil {
		return nil
	}
	return p.run.done
}

// running reports whether the program was started and has not exited.
func (p *process) running() bool {
	if p.run == nil {
		return false
	}
	select {
	case <-p.run.done:
		return false
	default:
		return true
	}
}

// exitError describes why a run ended early, with the log tail, for start
// failures.
func (p *process) exitError() error {
	return fmt.Errorf("localstack: %s exited during start (%v); log tail:\n%s",
		p.name, p.run.err, p.logTail())
}

// stop asks the program to shut down with its stop signal, waits, and
// escalates to SIGKILL on the whole process group after the stop timeout.
func (p *process) stop() error {
	if !p.running() {
		return nil
	}
	pid := p.run.cmd.Process.Pid
	if err := syscall.Kill(pid, p.stopSignal); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("localstack: signal %s: %w", p.name, err)
	}
	timer := time.NewTimer(p.stopTimeout)
	defer timer.Stop()
	select {
	case <-p.run.done:
	case <-timer.C:
		// Logged rather than returned: a slow shutdown on a busy machine is
		// not what the caller's test is about.
		p.logger.Warn("did not stop in time, killing", "pid", pid, "timeout", p.stopTimeout)
		return p.kill()
	}
	p.killGroup(pid)
	return nil
}

// kill sends SIGKILL to the program's process group (PostgreSQL's backends
// included) and waits until the program is reaped and the group is gone, so
// that a start that follows finds the port and shared memory free.
func (p *process) kill() error {
	if !p.running() {
		return nil
	}
	pid := p.run.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("localstack: kill %s: %w", p.name, err)
	}
	<-p.run.done
	p.killGroup(pid)
	return nil
}

// killGroup removes any member of the group that outlived the leader and
// waits a little for them to die.
func (p *process) killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // ESRCH is the normal case
	deadline := time.Now().Add(5 * time.Second)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// logTail returns the last lines of the program's log.
func (p *process) logTail() string { return readTail(p.logPath, logTailBytes, logTailLines) }

func readTail(path string, maxBytes int64, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxBytes {
		_, _ = f.Seek(fi.Size()-maxBytes, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// logMentions reports whether the current run's log contains any of the
// phrases, case-insensitively; used to decide whether a failed start is
// worth a retry.
func (p *process) logMentions(phrases ...string) bool {
	f, err := os.Open(p.logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, p.runOffset, 1<<20))
	if err != nil {
		return false
	}
	tail := strings.ToLower(string(data))
	for _, s := range phrases {
		if strings.Contains(tail, s) {
			return true
		}
	}
	return false
}

// startConflicts are the ways our programs say a start collided with something that goes
// away by itself: a port another process took between FreePort and the bind, and, after a
// kill -9 of PostgreSQL, a backend of the old server that has not yet finished dying and
// still holds its shared memory ("pre-existing shared memory block ... is still in use").
var startConflicts = []string{"address already in use", "address in use", "pre-existing shared memory block"}

// waitReady polls ready until it succeeds, the program exits, or ctx ends.
func (p *process) waitReady(ctx context.Context, ready func(context.Context) error) error {
	var lastErr error
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		lastErr = ready(attemptCtx)
		cancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-p.exited():
			return p.exitError()
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				// Interrupted (Ctrl-C during make run), not failed: the log says nothing.
				return fmt.Errorf("localstack: %s start interrupted: %w", p.name, ctx.Err())
			}
			return fmt.Errorf("localstack: %s not ready: %w (last error: %v); log tail:\n%s",
				p.name, ctx.Err(), lastErr, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// nopLogger is used when the caller passes none.
func nopLogger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
