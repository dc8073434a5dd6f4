//go:build !linux

package alarmprop

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
