package setns

import (
	"fmt"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
)

// GroupOf returns the live processes, among procs, that belong to the
// exec whose process is leader: those of its session and process group
// (libcontainer makes an exec's process a session leader) and the
// descendants of any of them, which covers children that started a
// session of their own. Orphans of such a child, reparented to the
// plugin's init, are out of reach.
func GroupOf(leader int, procs map[int]ProcInfo) []int {
	in := map[int]bool{}
	for pid, p := range procs {
		if pid == leader || p.Session == leader || p.Pgrp == leader {
			in[pid] = true
		}
	}
	for grew := true; grew; {
		grew = false
		for pid, p := range procs {
			if !in[pid] && in[p.Ppid] {
				in[pid], grew = true, true
			}
		}
	}
	var out []int
	for pid := range in {
		if !procs[pid].Exited() {
			out = append(out, pid)
		}
	}
	return out
}

// SignalGroup signals the live processes of the exec led by leader (see
// GroupOf) in container ct, and returns how many there were; signal 0
// only counts them. Each is signalled through SignalPid, so a PID reused
// meanwhile is never hit.
func SignalGroup(ct *libcontainer.Container, leader int, sig syscall.Signal) (int, error) {
	if leader <= 0 {
		return 0, nil
	}
	pids, err := ct.Processes()
	if err != nil {
		return 0, fmt.Errorf("list container processes: %w", err)
	}
	procs := make(map[int]ProcInfo, len(pids))
	for _, pid := range pids {
		if p, err := ReadProcInfo(pid); err == nil {
			procs[pid] = p
		}
	}
	members := GroupOf(leader, procs)
	if sig == 0 {
		return len(members), nil
	}
	for _, pid := range members {
		SignalPid(pid, procs[pid].Start, sig)
	}
	return len(members), nil
}
