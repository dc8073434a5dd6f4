//go:build !linux

package chain

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
