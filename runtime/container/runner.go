package container

import (
	"syscall"

	"github.com/opencontainers/runc/libcontainer"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/setns"
)

// Runner starts an exec's process, as libcontainer describes it, in a
// running container. Whichever process runs libcontainer becomes the
// process's parent, and its binary the process's init until the command
// is executed: LocalRunner starts it from the calling process; the
// daemon hands it to the plugin's monitor, whose smaller binary starts
// faster and is sealed already.
type Runner interface {
	// Run starts p in ct. An error wrapping ErrNotRunning says that the
	// container no longer runs; any other error, why the command could
	// not be started.
	Run(ct *libcontainer.Container, p *libcontainer.Process) (Started, error)
}

// Started is a process a Runner started.
type Started interface {
	Pid() int // on the host
	Signal(sig syscall.Signal) error
	Wait() types.ExecExit
	// Close releases what the runner holds for the process once it has
	// been waited for, or gives up on it.
	Close() error
}

// LocalRunner starts exec processes as children of the calling process.
type LocalRunner struct{}

// Run implements Runner.
func (LocalRunner) Run(ct *libcontainer.Container, p *libcontainer.Process) (Started, error) {
	pid, err := setns.Start(ct, p)
	if err != nil {
		setns.ReapStrays()
		return nil, err
	}
	return &localProcess{p: p, pid: pid}, nil
}

type localProcess struct {
	p   *libcontainer.Process
	pid int
}

func (l *localProcess) Pid() int                        { return l.pid }
func (l *localProcess) Signal(sig syscall.Signal) error { return l.p.Signal(sig) }
func (l *localProcess) Close() error                    { return nil }

func (l *localProcess) Wait() types.ExecExit {
	ps, err := l.p.Wait()
	setns.Done(l.pid)
	return setns.ExitOf(ps, err)
}
