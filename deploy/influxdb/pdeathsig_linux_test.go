package influxsetup_test

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill the child when the test binary dies, so a crashed
// test leaves no influxd behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
