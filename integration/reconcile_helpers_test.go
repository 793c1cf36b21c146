package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/runtime/manager"
)

// cgroupMounts lists the mount points of the host's cgroup hierarchies, v1
// and v2 alike.
func cgroupMounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// The fields after " - " are the fs type, source and options.
		line := sc.Text()
		i := strings.Index(line, " - ")
		if i < 0 {
			continue
		}
		post := strings.Fields(line[i+3:])
		fields := strings.Fields(line[:i])
		if len(post) > 0 && (post[0] == "cgroup" || post[0] == "cgroup2") && len(fields) >= 5 {
			out = append(out, unescapeMountinfo(fields[4]))
		}
	}
	return out
}

// pluginCgroups lists the cgroup directories of plugin id (under the
// daemon's default cgroup parent) that exist, in every hierarchy.
func pluginCgroups(id string) []string {
	var out []string
	for _, mnt := range cgroupMounts() {
		dir := filepath.Join(mnt, manager.DefaultCgroupParent, id)
		if _, err := os.Stat(dir); err == nil {
			out = append(out, dir)
		}
	}
	return out
}

// cgroupPids lists the live processes in plugin id's cgroups.
func cgroupPids(id string) []int {
	seen := map[int]bool{}
	for _, dir := range pluginCgroups(id) {
		_ = filepath.WalkDir(dir, func(path string, de os.DirEntry, err error) error {
			if err != nil || de.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && alive(pid) {
					seen[pid] = true
				}
			}
			return nil
		})
	}
	out := make([]int, 0, len(seen))
	for pid := range seen {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// containerInit returns the pid of plugin id's container init as its
// libcontainer state records it, if that process still runs.
func (d *daemon) containerInit(id string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(d.containerStateDir(id), "state.json"))
	if err != nil {
		return 0, false
	}
	var st struct {
		Pid   int    `json:"init_process_pid"`
		Start uint64 `json:"init_process_start"`
	}
	if json.Unmarshal(b, &st) != nil || st.Pid == 0 {
		return 0, false
	}
	_, start, ok := procStat(st.Pid)
	return st.Pid, ok && start == st.Start && alive(st.Pid)
}

// activate calls Plugin.Activate on a plugin socket.
func activate(ctx context.Context, sock string) error {
	c := probe.New(sock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var ret struct{ Implements []string }
	if err := c.Call(ctx, "Plugin.Activate", nil, &ret); err != nil {
		return err
	}
	if len(ret.Implements) == 0 {
		return fmt.Errorf("Plugin.Activate: no interface in the answer")
	}
	return nil
}

// tempFiles lists the files atomicfile writes leave behind when killed
// (.<name>.tmp-N) directly in dir.
func tempFiles(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp-") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// reconciled checks, after a daemon start, that what inspect says of
// every plugin matches what runs and what is on disk:
//   - an enabled plugin runs: one monitor, a live container init that is
//     inspect's Pid, every process of its cgroups in the container, and its
//     socket answers Plugin.Activate;
//   - a disabled plugin has no monitor, no container, no libcontainer
//     state, no socket dir, no cgroup; its monitor dir, if any, holds only
//     the record of the last run (exit.json);
//   - the plugins in gone (removed, or never committed) have nothing left
//     anywhere, store included;
//   - no state write was left half done (.*.tmp-N), in the store or in a
//     monitor dir.
//
// The restarted daemon may still be on its way there: a run it reattached
// to may be ending (a stop the killed daemon asked for), and its restart
// is then scheduled, not done. So the checks are repeated until they pass
// or waitTimeout has passed; what stays wrong that long is a problem. They
// are returned (none: nil) rather than failed on, so that callers can
// report them with their context.
func (d *daemon) reconciled(t *testing.T, gone []string) []string {
	t.Helper()
	var problems []string
	poll(func() bool { problems = d.reconcileProblems(t, gone); return len(problems) == 0 }, waitTimeout)
	return problems
}

func (d *daemon) reconcileProblems(t *testing.T, gone []string) []string {
	t.Helper()
	ctx := testCtx(t)
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	list, err := d.client.List(ctx, client.ListOptions{})
	require.NoError(t, err, "list plugins")

	for _, p := range list {
		id, name := p.ID, p.Name
		monitors := d.monitorPids(id)
		initPid, running := d.containerInit(id)
		for _, f := range tempFiles(d.storeDir(id)) {
			add("%s: half-written state file %s", name, f)
		}
		if p.Enabled {
			if p.State.Status != types.StatusRunning {
				add("%s: enabled but %s (error %q)", name, p.State.Status, p.State.Error)
				continue
			}
			if len(monitors) != 1 {
				add("%s: enabled with monitors %v, want one", name, monitors)
			}
			if !running || initPid != p.State.Pid {
				add("%s: enabled with pid %d, container init %d (running %v)", name, p.State.Pid, initPid, running)
			}
			for _, pid := range cgroupPids(id) {
				if pid != initPid && !childOf(pid, initPid) {
					add("%s: process %d in its cgroups is not in its container", name, pid)
				}
			}
			if err := activate(ctx, p.State.Socket); err != nil {
				add("%s: enabled but Plugin.Activate on %s: %v", name, p.State.Socket, err)
			}
			continue
		}
		if p.State.Status != types.StatusDisabled || p.State.Pid != 0 {
			add("%s: disabled with status %s, pid %d", name, p.State.Status, p.State.Pid)
		}
		if len(monitors) > 0 {
			add("%s: disabled but monitors %v run", name, monitors)
		}
		if running {
			add("%s: disabled but its container runs (pid %d)", name, initPid)
		}
		if pids := cgroupPids(id); len(pids) > 0 {
			add("%s: disabled but processes %v run in its cgroups", name, pids)
		}
		if err := activate(ctx, p.State.Socket); err == nil {
			add("%s: disabled but its socket %s answers", name, p.State.Socket)
		}
		problems = append(problems, d.noRunLeft(name, id, true)...)
	}
	for _, id := range gone {
		if slices.ContainsFunc(list, func(p types.Inspect) bool { return p.ID == id }) {
			continue // re-created under the same ID: impossible, but checked above then
		}
		if _, err := os.Stat(d.storeDir(id)); err == nil {
			add("removed plugin %.12s: store dir %s left", id, d.storeDir(id))
		}
		if pids := d.monitorPids(id); len(pids) > 0 {
			add("removed plugin %.12s: monitors %v run", id, pids)
		}
		if pids := cgroupPids(id); len(pids) > 0 {
			add("removed plugin %.12s: processes %v run in its cgroups", id, pids)
		}
		problems = append(problems, d.noRunLeft("removed plugin "+id[:12], id, false)...)
	}
	root := filepath.Join(d.dataRoot, "plugins")
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), "-removing") {
			add("store: half-removed plugin %s left", e.Name())
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(root, "tmp")); len(tmp) > 0 {
		add("store: %d entries left in tmp/", len(tmp))
	}
	return problems
}

// noRunLeft reports what is left on the host of runs of plugin id, which
// must not run. keepRecord allows its monitor dir with the last run's exit
// status (and nothing half-written or live in it).
func (d *daemon) noRunLeft(name, id string, keepRecord bool) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if _, err := os.Stat(d.containerStateDir(id)); err == nil {
		add("%s: libcontainer state %s left", name, d.containerStateDir(id))
	}
	if _, err := os.Stat(d.socketDir(id)); err == nil {
		add("%s: socket dir %s left", name, d.socketDir(id))
	}
	if cgs := pluginCgroups(id); len(cgs) > 0 {
		add("%s: cgroups left: %v", name, cgs)
	}
	dir := d.monitorDir(id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return problems
	}
	if !keepRecord {
		add("%s: monitor dir %s left", name, dir)
		return problems
	}
	if _, err := os.Stat(filepath.Join(dir, "exit.json")); err != nil {
		add("%s: monitor dir %s left without a recorded exit", name, dir)
	}
	for _, e := range ents {
		if e.Name() == "monitor.sock" || strings.Contains(e.Name(), ".tmp-") {
			add("%s: %s left in its monitor dir", name, e.Name())
		}
	}
	return problems
}

// childOf reports whether pid descends from ancestor.
func childOf(pid, ancestor int) bool {
	for range 64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			return false
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			return false
		}
		ppid, _ := strconv.Atoi(f[1])
		if ppid == ancestor {
			return true
		}
		if ppid <= 1 {
			return false
		}
		pid = ppid
	}
	return false
}
