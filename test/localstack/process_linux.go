package localstack

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts the child in its own process group, so a Ctrl-C on the
// terminal does not reach it before we stop it cleanly, and has the kernel
// SIGKILL it when we die. The credentials are switched by the kernel-side
// fork (not by runuser or su) because changing the user clears the parent
// death signal: Go sets it after the switch, runuser would clear it.
// The kernel ties the signal to the thread that started the child; Go does
// not end its threads, except one locked with runtime.LockOSThread whose
// goroutine returns, so do not start services from such a goroutine.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
}

// groupAlive reports whether a process other than a zombie is still in the
// process group. kill(-pgid, 0) is not enough: orphans whose new parent
// does not reap them (as in many containers) linger as zombies.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid pgrp ..."; comm may contain spaces and ')'.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 3 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(fields[2]); err == nil && g == pgid {
			return true
		}
	}
	return false
}
