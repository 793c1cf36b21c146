package client

import "syscall"

// setParentDeath kills ssh with plugdbg, whatever ends plugdbg.
func setParentDeath(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
