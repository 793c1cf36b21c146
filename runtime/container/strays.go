package container

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// pfExiting is the kernel's PF_EXITING: the process has begun to exit. An
// init that has, waits in that state until every other process of its
// PID namespace has been reaped, which may be never.
const pfExiting = 0x4

// exiting reports whether the process has begun to exit or has exited.
func (p procInfo) exiting() bool { return p.flags&pfExiting != 0 || p.exited() }

// Exec processes are set up by libcontainer through helper processes that
// it forks as children of the daemon (clone with CLONE_PARENT), named
// runc:[1:CHILD] and runc:[2:INIT]. When a start fails part-way, typically
// because the plugin's init died meanwhile, libcontainer returns without
// reaping them: each then stays a zombie of the daemon, and one inside the
// container's PID namespace keeps the plugin's init from ever finishing its
// exit. reapStrays ends and reaps such helpers; starts and it are ordered
// so that it never takes the helpers of a start still in progress, and
// started exec processes, which may still carry the runc:[2:INIT] name
// until they exec, are known and left to their Wait.
var (
	// startMu is held for reading across each start and for writing by
	// reapStrays.
	startMu sync.RWMutex

	liveMu sync.Mutex
	live   = map[int]bool{} // started exec processes not yet waited for, by host PID
)

// strayNames are the names of libcontainer's exec helpers.
var strayNames = map[string]bool{"runc:[1:CHILD]": true, "runc:[2:INIT]": true}

// reapStrays kills and reaps the daemon's children left by failed starts.
// It returns how many it reaped.
func reapStrays() int {
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
		p, err := readProcInfo(pid)
		if err != nil || p.ppid != self || !strayNames[p.comm] {
			continue
		}
		liveMu.Lock()
		started := live[pid]
		liveMu.Unlock()
		if started {
			continue
		}
		// A child of the daemon not yet reaped: its PID cannot name
		// another process, so a plain kill and wait4 are safe.
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
