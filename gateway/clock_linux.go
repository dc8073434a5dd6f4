//go:build linux

package gateway

import "golang.org/x/sys/unix"

// Synced reports whether the kernel calls the system clock synchronised: an NTP client
// (systemd-timesyncd, chrony) clears STA_UNSYNC once it has set the clock. A read-only
// adjtimex needs no privilege.
func (wallClock) Synced() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	return err == nil && state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}
