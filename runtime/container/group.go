package container

import (
	"syscall"

	"github.com/plugdbg/plugdbg/runtime/setns"
)

// SignalGroup implements execproto.Group: it signals the live processes of
// the exec (setns.GroupOf) in its container and returns how many there
// were.
func (x *Process) SignalGroup(sig syscall.Signal) (int, error) {
	return setns.SignalGroup(x.ct, x.Pid(), sig)
}
