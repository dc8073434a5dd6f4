package chain

import "syscall"

// procAttr has the kernel SIGKILL a chain process when the test binary dies (a timeout, a
// Ctrl-C), so none outlives the run.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
