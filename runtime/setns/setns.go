// Package setns starts processes in a running container through
// libcontainer (its "setns" processes: exec) and reaps the helpers a
// failed start leaves behind. The daemon and the monitors both start exec
// processes, each as their own children, so both use it.
package setns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
)

// libcontainer sets an exec process up through helper processes that it
// forks as children of the calling process (clone with CLONE_PARENT),
// named runc:[1:CHILD] and runc:[2:INIT]. When a start fails part-way,
// typically because the plugin's init died meanwhile, libcontainer returns
// without reaping them: each then stays a zombie of the caller, and one
// inside the container's PID namespace keeps the plugin's init from ever
// finishing its exit. ReapStrays ends and reaps such helpers; starts and
// it are ordered so that it never takes the helpers of a start still in
// progress, and started processes, which may still carry the runc:[2:INIT]
// name until they exec, are known and left to their Wait.
var (
	// startMu is held for reading across each start and for writing by
	// ReapStrays.
	startMu sync.RWMutex

	liveMu sync.Mutex
	live   = map[int]bool{} // started processes not yet waited for, by host PID
)

// strayNames are the names of libcontainer's exec helpers.
var strayNames = map[string]bool{"runc:[1:CHILD]": true, "runc:[2:INIT]": true}

// Start runs p in ct, ordered with ReapStrays, and records it as started
// until Done. It returns the process's host PID.
func Start(ct *libcontainer.Container, p *libcontainer.Process) (int, error) {
	startMu.RLock()
	defer startMu.RUnlock()
	if err := ct.Run(p); err != nil {
		return 0, err
	}
	pid, err := p.Pid()
	if err != nil {
		// Not reached: Run succeeded, so libcontainer knows the PID.
		return 0, fmt.Errorf("exec process: %w", err)
	}
	liveMu.Lock()
	live[pid] = true
	liveMu.Unlock()
	return pid, nil
}

// Done forgets a process Start started, once it has been waited for.
func Done(pid int) {
	liveMu.Lock()
	delete(live, pid)
	liveMu.Unlock()
}

// ReapStrays kills and reaps the children of this process that failed
// starts left. It returns how many it reaped.
func ReapStrays() int {
	startMu.Lock()
	defer startMu.Unlock()
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	n := 0
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		p, err := ReadProcInfo(pid)
		if err != nil || p.Ppid != self || !strayNames[p.Comm] {
			continue
		}
		liveMu.Lock()
		started := live[pid]
		liveMu.Unlock()
		if started {
			continue
		}
		// A child not yet reaped: its PID cannot name another process,
		// so a plain kill and wait4 are safe.
		_ = unix.Kill(pid, unix.SIGKILL)
		if reap(pid) {
			n++
		}
	}
	return n
}

// reap waits for the killed child pid, for a bounded time: one stuck in
// the kernel is left for a later call.
func reap(pid int) bool {
	const tries = 100
	for range tries {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == pid || errors.Is(err, unix.ECHILD) {
			return got == pid
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// ExitOf is how a process that Start started ended, from its Wait.
func ExitOf(ps *os.ProcessState, err error) types.ExecExit {
	if ps == nil {
		return types.ExecExit{ExitCode: 1, Error: fmt.Sprintf("wait: %v", err)}
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		return types.ExecExit{ExitCode: 128 + int(ws.Signal()), Signal: execproto.SignalName(ws.Signal())}
	case ok:
		return types.ExecExit{ExitCode: ws.ExitStatus()}
	}
	return types.ExecExit{ExitCode: ps.ExitCode()}
}
