package chain

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestProcessKillAndStartAgain: a killed process is gone, a started one runs again with the
// same arguments, and both runs write to the one log.
func TestProcessKillAndStartAgain(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	p := &Process{Name: "sleeper", Bin: sh, Args: []string{"-c", "echo up $MARK; exec sleep 60"},
		Env: []string{"MARK=m1"}, Log: filepath.Join(t.TempDir(), "sleeper.log")}
	for run := 1; run <= 2; run++ {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err == nil {
			t.Fatal("a second Start of a running process did not fail")
		}
		if !p.Running() || p.PID() == 0 {
			t.Fatalf("run %d: Running %t, PID %d after Start", run, p.Running(), p.PID())
		}
		stacktest.WaitFor(t, "the run's line in the log", 30*time.Second, func() bool { return CountLines(p.Log, "up m1") == run })
		if err := p.Kill(); err != nil {
			t.Fatalf("run %d: Kill: %v", run, err)
		}
		if p.Running() || p.PID() != 0 || !p.Exited() {
			t.Fatalf("run %d: Running %t, PID %d, Exited %t after Kill", run, p.Running(), p.PID(), p.Exited())
		}
	}
	if got := CountLines(p.Log, "=== sleeper start"); got != 2 {
		t.Errorf("%d start marks in the log, want 2:\n%s", got, Tail(p.Log, 10))
	}
	if got := Tail(p.Log, 1); got != "up m1" {
		t.Errorf("Tail(log, 1) = %q, want the second run's line", got)
	}
}

// TestUplinkCut: bytes pass while the relay is up; Cut closes the open connection and
// refuses new ones until Restore.
func TestUplinkCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // an echo server stands in for the broker
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					c.Write([]byte(sc.Text() + "\n"))
				}
			}()
		}
	}()
	r, err := NewUplinkCut(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	addr := strings.TrimPrefix(r.URL(), "tcp://")

	c := dialEcho(t, addr, "before")
	r.Cut()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("an open connection still reads after Cut")
	}
	if c2, err := net.Dial("tcp", addr); err == nil {
		c2.SetDeadline(time.Now().Add(10 * time.Second))
		c2.Write([]byte("during\n"))
		if n, err := c2.Read(make([]byte, 16)); err == nil {
			t.Errorf("a new connection was relayed while cut (%d bytes back)", n)
		}
		c2.Close()
	}
	r.Restore()
	dialEcho(t, addr, "after").Close()
}

func dialEcho(t *testing.T, addr, line string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("through the relay: %q, %v; want %q", got, err, line)
	}
	c.SetDeadline(time.Time{})
	return c
}
