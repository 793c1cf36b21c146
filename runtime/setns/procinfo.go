package setns

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

// ProcInfo is what /proc/<pid>/stat says of a process's place among the
// others. PIDs are as the reading process (the host) sees them.
type ProcInfo struct {
	Comm          string
	State         byte
	Ppid          int
	Pgrp, Session int
	Flags         uint64 // the kernel's PF_* flags
	Start         uint64 // clock ticks after boot: with the PID, names one process
}

// pfExiting is the kernel's PF_EXITING: the process has begun to exit. An
// init that has, waits in that state until every other process of its
// PID namespace has been reaped, which may be never.
const pfExiting = 0x4

// ReadProcInfo reads /proc/<pid>/stat.
func ReadProcInfo(pid int) (ProcInfo, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ProcInfo{}, err
	}
	return ParseProcStat(b)
}

// ParseProcStat parses a /proc/<pid>/stat line: "pid (comm) state ppid
// pgrp session tty tpgid flags(9) … starttime(22) …"; comm may hold spaces
// and parentheses.
func ParseProcStat(b []byte) (ProcInfo, error) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return ProcInfo{}, fmt.Errorf("malformed stat %q", b)
	}
	f := bytes.Fields(b[j+1:]) // f[0] is field 3, the state
	if len(f) < 20 || len(f[0]) != 1 {
		return ProcInfo{}, fmt.Errorf("malformed stat %q", b)
	}
	info := ProcInfo{Comm: string(b[i+1 : j]), State: f[0][0]}
	var errs []error
	num := func(k int) int {
		n, err := strconv.Atoi(string(f[k]))
		errs = append(errs, err)
		return n
	}
	info.Ppid, info.Pgrp, info.Session = num(1), num(2), num(3)
	flags, err := strconv.ParseUint(string(f[6]), 10, 64)
	start, err2 := strconv.ParseUint(string(f[19]), 10, 64)
	info.Flags, info.Start = flags, start
	if err := errors.Join(append(errs, err, err2)...); err != nil {
		return ProcInfo{}, fmt.Errorf("malformed stat %q: %w", b, err)
	}
	return info, nil
}

// Exited reports whether the process has ended (a zombie waiting for its
// parent, or being reaped).
func (p ProcInfo) Exited() bool { return p.State == 'Z' || p.State == 'X' || p.State == 'x' }

// Exiting reports whether the process has begun to exit or has exited.
func (p ProcInfo) Exiting() bool { return p.Flags&pfExiting != 0 || p.Exited() }

// SignalPid sends sig to pid if it is still the process that started at
// start (ProcInfo.Start), through a pidfd opened before the check, so that
// a PID reused meanwhile is never hit. It reports whether it sent it.
func SignalPid(pid int, start uint64, sig syscall.Signal) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false // gone
	}
	defer unix.Close(fd)
	if p, err := ReadProcInfo(pid); err != nil || p.Start != start {
		return false
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0) == nil
}
