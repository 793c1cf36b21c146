//go:build unix

package execproto

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// The signals a hung-up session sends (server side, Linux).
const (
	sigHUP  = unix.SIGHUP
	sigKILL = unix.SIGKILL
	sigCONT = unix.SIGCONT
)

// signalNum is the platform's number for a "SIG…" name, 0 if unknown.
func signalNum(name string) syscall.Signal { return unix.SignalNum(name) }

// signalName is the platform's "SIG…" name of sig, "" if unknown.
func signalName(sig syscall.Signal) string { return unix.SignalName(sig) }
