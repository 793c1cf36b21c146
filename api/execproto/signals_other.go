//go:build !unix

package execproto

import "syscall"

// Frames carry signals by name, and the daemon is Linux: a client on a
// platform without Unix signals names them from Linux's table.
var linuxSignals = []string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
	7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
	13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT",
	19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU",
	25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR",
	31: "SIGSYS",
}

const (
	sigHUP  = syscall.Signal(1)
	sigKILL = syscall.Signal(9)
	sigCONT = syscall.Signal(18)
)

func signalNum(name string) syscall.Signal {
	for n, s := range linuxSignals {
		if s == name && s != "" {
			return syscall.Signal(n)
		}
	}
	return 0
}

func signalName(sig syscall.Signal) string {
	if int(sig) > 0 && int(sig) < len(linuxSignals) {
		return linuxSignals[sig]
	}
	return ""
}
