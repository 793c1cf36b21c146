package manager

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/format/config"
	"github.com/plugdbg/plugdbg/probe"
)

// activate calls Plugin.Activate until it answers or ctx ends, and checks
// that the plugin implements what its config declares. A plugin that
// answers 404 is accepted: Docker sends managed plugins no Activate.
func (m *Manager) activate(ctx context.Context, e *entry, socket string, done <-chan struct{}) (warning string, err error) {
	c := probe.New(socket)
	defer c.Close()
	wait := 2 * time.Millisecond
	var lastErr error
	for {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		man, err := c.Activate(callCtx)
		cancel()
		switch {
		case err == nil:
			if err := config.CheckImplements(e.p.Config.Interface.Types, man.Implements); err != nil {
				return "", errkind.Invalid(err)
			}
			return "", nil
		case probe.IsNotFound(err):
			return "plugin does not answer Plugin.Activate (HTTP 404); accepted as Docker does", nil
		}
		var se *probe.StatusError
		if errors.As(err, &se) {
			return "", fmt.Errorf("Plugin.Activate failed: %w", err)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("plugin socket %s did not answer Plugin.Activate: %w", socket, lastErr)
		case <-done:
			return "", errExited
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

var errExited = errors.New("plugin exited")

// Bounds on what listeningSockets reads, so that a plugin with a huge
// number of descriptors, or a host with a huge socket table (host
// networking shows the whole host's), cannot stall an error message.
const (
	maxProcs      = 1024    // processes of the plugin looked at
	maxFDs        = 1 << 16 // descriptors looked at, all processes together
	maxUnixLines  = 1 << 20 // lines of each /proc/<pid>/net/unix read
	fdReadDirStep = 256     // directory entries read at a time
)

// soAcceptCon is __SO_ACCEPTCON, the flag /proc/net/unix shows on a socket
// that listen(2) was called on.
const soAcceptCon = 0x10000

// listeningSockets lists the unix sockets that the processes pids listen
// on, by the names they were bound to (paths as the plugin sees them, or
// @name for abstract ones), each once, sorted. It names a plugin's own
// sockets in an error when the expected one never appeared: the sockets
// open in its processes (/proc/<pid>/fd → socket:[inode]) looked up in
// their network namespace's /proc/<pid>/net/unix, and only the listening
// ones, since that table holds every socket of the namespace (the whole
// host's, with host networking) and the connections accepted on a
// listener show its path too.
func listeningSockets(pids []int) []string {
	inodes := map[uint64]bool{}
	byNetns := map[string]int{} // a process in each network namespace seen
	var order []string          // byNetns's keys, in the order seen
	fds := 0
	for _, pid := range pids[:min(len(pids), maxProcs)] {
		if fds >= maxFDs {
			break
		}
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			continue // it exited meanwhile
		}
		fds += socketInodes(pid, maxFDs-fds, inodes)
		if _, ok := byNetns[ns]; !ok {
			byNetns[ns] = pid
			order = append(order, ns)
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, ns := range order {
		for _, name := range listenersIn(byNetns[ns], inodes) {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// socketInodes adds to inodes the inodes of the sockets open in process
// pid, looking at no more than limit descriptors, and returns how many it
// looked at.
func socketInodes(pid, limit int, inodes map[uint64]bool) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for n < limit {
		names, err := f.Readdirnames(min(fdReadDirStep, limit-n))
		for _, name := range names {
			n++
			link, err := os.Readlink(dir + "/" + name)
			if err != nil {
				continue // closed meanwhile
			}
			if rest, ok := strings.CutPrefix(link, "socket:["); ok {
				if ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64); err == nil {
					inodes[ino] = true
				}
			}
		}
		if err != nil {
			break // io.EOF: all read
		}
	}
	return n
}

// listenersIn returns the names of the listening sockets among inodes in
// the network namespace of process pid, from its /proc/<pid>/net/unix:
// "Num RefCount Protocol Flags Type St Inode [Path]", in hex but the
// inode, St 01 (unconnected) with __SO_ACCEPTCON set on a listener.
func listenersIn(pid int, inodes map[uint64]bool) []string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/unix", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for lines := 0; lines < maxUnixLines && sc.Scan(); lines++ {
		fields, path := splitFields(sc.Text(), 7)
		if len(fields) < 7 || path == "" {
			continue // unnamed
		}
		flags, err1 := strconv.ParseUint(fields[3], 16, 32)
		ino, err2 := strconv.ParseUint(fields[6], 10, 64)
		if err1 != nil || err2 != nil || flags&soAcceptCon == 0 || fields[5] != "01" || !inodes[ino] {
			continue
		}
		out = append(out, path)
	}
	return out
}

// splitFields splits the first n space-separated fields off line and
// returns them and the rest, which may hold spaces (a socket's path does).
func splitFields(line string, n int) ([]string, string) {
	fields := make([]string, 0, n)
	rest := line
	for len(fields) < n {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return fields, ""
		}
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			return append(fields, rest), ""
		}
		fields, rest = append(fields, rest[:i]), rest[i+1:]
	}
	return fields, strings.TrimLeft(rest, " ")
}

// socketsIn lists socket files in dir, recursively up to a bound.
func socketsIn(dir string) []string {
	var out []string
	seen := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if seen++; seen > 20000 {
			return filepath.SkipAll
		}
		if d.Type()&fs.ModeSocket != 0 {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// pluginPids lists the processes of plugin id's container, from its
// executor (the container's cgroup), or only its init process, pid, if the
// executor cannot list them.
func (m *Manager) pluginPids(id string, pid int) []int {
	top, err := m.opts.Executor.Top(id)
	col := slices.Index(top.Titles, "PID")
	if err != nil || col < 0 {
		if pid > 0 {
			return []int{pid}
		}
		return nil
	}
	var pids []int
	for _, row := range top.Processes {
		if col < len(row) {
			if p, err := strconv.Atoi(row[col]); err == nil {
				pids = append(pids, p)
			}
		}
	}
	if pid > 0 && !slices.Contains(pids, pid) {
		pids = append(pids, pid)
	}
	return pids
}

type progressKey struct{}

// WithProgress returns a copy of ctx that carries report: Enable, given
// such a context, calls report with a line for what it starts to wait
// for, as "waiting for Plugin.Activate on SOCKET (timeout 30s)", so that
// the API can stream it to a client that asked. It is a context value
// rather than a parameter because it rides along the request, through
// every Backend, and a caller that does not ask gets nothing. report is
// called on the enable's goroutine and must not block for long.
func WithProgress(ctx context.Context, report func(status string)) context.Context {
	return context.WithValue(ctx, progressKey{}, report)
}

// reportProgress tells ctx's progress report, if any, what it waits for.
func reportProgress(ctx context.Context, format string, args ...any) {
	if report, ok := ctx.Value(progressKey{}).(func(string)); ok && report != nil {
		report(fmt.Sprintf(format, args...))
	}
}

type waitTimeoutKey struct{}

// withWaitTimeout notes on ctx the timeout the caller gave its wait, for
// the progress line to name it as given.
func withWaitTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, waitTimeoutKey{}, d)
}

// timeoutNote is " (timeout 30s)" for a wait given 30 s (what is left of
// ctx, if the timeout was not noted), "" for one with no deadline.
func timeoutNote(ctx context.Context) string {
	if d, ok := ctx.Value(waitTimeoutKey{}).(time.Duration); ok {
		return fmt.Sprintf(" (timeout %s)", d)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (timeout %s)", max(time.Until(dl).Round(time.Second), 0))
}
