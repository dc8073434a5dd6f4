//go:build linux

package main

import "golang.org/x/sys/unix"

// kernelSynced: an NTP client has set the system clock (STA_UNSYNC clear), as the
// gateway's own wall clock reports it.
func kernelSynced() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	return err == nil && state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}
