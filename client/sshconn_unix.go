//go:build !windows

package client

import (
	"os/exec"
	"syscall"
)

// setSession puts ssh in a session of its own, as docker does: a
// ProxyCommand works, and the Ctrl-C that plugdbg forwards to an exec'd
// process does not also kill the connection carrying it.
func setSession(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	setParentDeath(cmd.SysProcAttr)
}
