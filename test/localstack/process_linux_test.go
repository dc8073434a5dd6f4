package localstack_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/test/localstack"
)

// helperEnv makes the test binary act as a parent that starts a broker and
// then waits to be killed.
const helperEnv = "LOCALSTACK_TEST_HELPER_DIR"

// A test binary that crashes must not leave its servers running: the
// kernel kills them with the parent-death signal.
func TestServiceDiesWithItsParent(t *testing.T) {
	if dir := os.Getenv(helperEnv); dir != "" {
		runHelperParent(dir)
		return
	}
	if _, err := localstack.FindBinary("mosquitto"); err != nil {
		t.Skip(err)
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestServiceDiesWithItsParent$")
	cmd.Env = append(os.Environ(), helperEnv+"="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// Should this test die, the helper (and through it the broker) goes too,
	// instead of holding `go test`'s output open for ever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	// pid first: the helper writes one line and then nothing, so one Scan
	// too many blocks for ever.
	for sc := bufio.NewScanner(out); pid == 0 && sc.Scan(); {
		if rest, ok := strings.CutPrefix(sc.Text(), "broker pid "); ok {
			pid, _ = strconv.Atoi(rest)
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the helper did not report its broker's pid; its stderr:\n%s", stderr.Bytes())
	}
	if !processAlive(pid) {
		t.Fatalf("broker %d is not running while its parent lives", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	deadline := time.Now().Add(waitFor)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("broker %d outlived its killed parent", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runHelperParent(dir string) {
	m, err := localstack.StartMosquitto(context.Background(), localstack.MosquittoOptions{BaseDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("broker pid %d\n", m.PID())
	select {} // until the test kills us
}

// processAlive is false for a process that is gone or a zombie (an orphan
// whose new parent does not reap it).
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
