package container

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// procInfo is what /proc/<pid>/stat says of a process's place among the
// others. PIDs are as the daemon (the host) sees them.
type procInfo struct {
	comm          string
	state         byte
	ppid          int
	pgrp, session int
	flags         uint64 // the kernel's PF_* flags
	start         uint64 // clock ticks after boot: with the PID, names one process
}

// readProcInfo reads /proc/<pid>/stat.
func readProcInfo(pid int) (procInfo, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procInfo{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses a /proc/<pid>/stat line: "pid (comm) state ppid
// pgrp session tty tpgid flags(9) … starttime(22) …"; comm may hold spaces
// and parentheses.
func parseProcStat(b []byte) (procInfo, error) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return procInfo{}, fmt.Errorf("malformed stat %q", b)
	}
	f := bytes.Fields(b[j+1:]) // f[0] is field 3, the state
	if len(f) < 20 || len(f[0]) != 1 {
		return procInfo{}, fmt.Errorf("malformed stat %q", b)
	}
	info := procInfo{comm: string(b[i+1 : j]), state: f[0][0]}
	var errs []error
	num := func(k int) int {
		n, err := strconv.Atoi(string(f[k]))
		errs = append(errs, err)
		return n
	}
	info.ppid, info.pgrp, info.session = num(1), num(2), num(3)
	flags, err := strconv.ParseUint(string(f[6]), 10, 64)
	start, err2 := strconv.ParseUint(string(f[19]), 10, 64)
	info.flags, info.start = flags, start
	if err := errors.Join(append(errs, err, err2)...); err != nil {
		return procInfo{}, fmt.Errorf("malformed stat %q: %w", b, err)
	}
	return info, nil
}

// exited reports whether the process has ended (a zombie waiting for its
// parent, or being reaped).
func (p procInfo) exited() bool { return p.state == 'Z' || p.state == 'X' || p.state == 'x' }

// groupOf returns the live processes, among procs, that belong to the
// exec whose process is leader: those of its session and process group
// (libcontainer makes an exec's process a session leader) and the
// descendants of any of them, which covers children that started a
// session of their own. Orphans of such a child, reparented to the
// plugin's init, are out of reach.
func groupOf(leader int, procs map[int]procInfo) []int {
	in := map[int]bool{}
	for pid, p := range procs {
		if pid == leader || p.session == leader || p.pgrp == leader {
			in[pid] = true
		}
	}
	for grew := true; grew; {
		grew = false
		for pid, p := range procs {
			if !in[pid] && in[p.ppid] {
				in[pid], grew = true, true
			}
		}
	}
	var out []int
	for pid := range in {
		if !procs[pid].exited() {
			out = append(out, pid)
		}
	}
	return out
}

// SignalGroup implements execproto.Group: it signals the live processes of
// the exec (see groupOf) in its container and returns how many there were.
// Each is signalled through a pidfd opened after checking that its PID
// still names the process listed, so a PID reused meanwhile is never hit.
func (x *Process) SignalGroup(sig syscall.Signal) (int, error) {
	if x.pid <= 0 {
		return 0, nil
	}
	pids, err := x.ct.Processes()
	if err != nil {
		return 0, fmt.Errorf("list container processes: %w", err)
	}
	procs := make(map[int]procInfo, len(pids))
	for _, pid := range pids {
		if p, err := readProcInfo(pid); err == nil {
			procs[pid] = p
		}
	}
	members := groupOf(x.pid, procs)
	if sig == 0 {
		return len(members), nil
	}
	for _, pid := range members {
		signalPid(pid, procs[pid].start, sig)
	}
	return len(members), nil
}

// signalPid sends sig to pid if it is still the process that started at
// start (clock ticks after boot).
func signalPid(pid int, start uint64, sig syscall.Signal) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	if p, err := readProcInfo(pid); err != nil || p.start != start {
		return
	}
	_ = unix.PidfdSendSignal(fd, sig, nil, 0)
}
