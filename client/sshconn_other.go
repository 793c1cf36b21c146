//go:build !linux && !windows

package client

import "syscall"

func setParentDeath(*syscall.SysProcAttr) {}
