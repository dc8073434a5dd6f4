//go:build unix && !linux

package localstack

import "syscall"

// sysProcAttr puts the child in its own process group. Outside Linux there
// is no parent-death signal: a crashed parent can leave the child running.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// groupAlive falls back to kill(-pgid, 0), which also counts zombies.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }
