package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t *testing.T, cond func() bool, timeout time.Duration, msgAndArgs ...any) {
	t.Helper()
	if !poll(cond, timeout) {
		require.Fail(t, fmt.Sprintf("condition not met within %s", timeout), msgAndArgs...)
	}
}

// eventuallyShow is eventually whose failure message, show(), is made when
// the wait has failed, so that it tells the state at the end, not at the
// start.
func eventuallyShow(t *testing.T, cond func() bool, timeout time.Duration, show func() string) {
	t.Helper()
	if !poll(cond, timeout) {
		require.Fail(t, fmt.Sprintf("condition not met within %s", timeout), show())
	}
}

// poll checks cond every 20 ms until it holds or timeout has passed, and
// reports whether it held: for states that nothing announces (/proc, the
// output of top), where the caller reports what is still wrong itself.
func poll(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// testCtx is a context for API calls, ended with the test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// create creates plugin name from the built test plugin kind, applies
// settings (KEY=VALUE) if any, and returns its inspect.
func (d *daemon) create(t *testing.T, name, kind string, settings ...string) types.Inspect {
	t.Helper()
	ctx := testCtx(t)
	require.NoError(t, d.client.CreateFromDir(ctx, name, pluginDir(kind)), "create %s from %s", name, kind)
	if len(settings) > 0 {
		require.NoError(t, d.client.Set(ctx, name, settings), "set %s %v", name, settings)
	}
	return d.inspect(t, name)
}

// enable enables a plugin with a 30 s timeout and returns its inspect.
func (d *daemon) enable(t *testing.T, ref string) types.Inspect {
	t.Helper()
	require.NoError(t, d.client.Enable(testCtx(t), ref, 30*time.Second), "enable %s", ref)
	return d.inspect(t, ref)
}

func (d *daemon) inspect(t *testing.T, ref string) types.Inspect {
	t.Helper()
	p, err := d.client.Inspect(testCtx(t), ref)
	require.NoError(t, err, "inspect %s", ref)
	return p
}

// storeDir is plugin id's directory in the store.
func (d *daemon) storeDir(id string) string { return filepath.Join(d.dataRoot, "plugins", id) }

// socketDir is plugin id's socket directory on the host.
func (d *daemon) socketDir(id string) string { return filepath.Join(d.execRoot, "plugins", id) }

// monitorDir is plugin id's monitor directory.
func (d *daemon) monitorDir(id string) string { return filepath.Join(d.execRoot, "monitors", id) }

// containerStateDir is plugin id's libcontainer state directory.
func (d *daemon) containerStateDir(id string) string { return filepath.Join(d.execRoot, "runc", id) }

// monitorPids returns the monitor processes running for plugin id.
func (d *daemon) monitorPids(id string) []int {
	return monitorPidsUnder(d.monitorDir(id))
}

// monitorPidsUnder lists monitor processes whose directory is dir or below.
// Monitors boot as spares without arguments and learn their directory
// later, so they are known by their stderr, <monitor dir>/monitor.log (and
// by their argument, should the daemon pass it).
func monitorPidsUnder(dir string) []int {
	var out []int
	for _, p := range processes() {
		if len(p.args) < 2 || p.args[1] != monitor.Argv1 {
			continue
		}
		if under(p.stderr, dir) || (len(p.args) >= 3 && under(p.args[2], dir)) {
			out = append(out, p.pid)
		}
	}
	return out
}

// under reports whether path is dir or below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

type process struct {
	pid    int
	args   []string
	cwd    string
	stderr string // what fd 2 points to
}

// processes lists the live processes with their command lines.
func processes() []process {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []process
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || !alive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		p := process{pid: pid, args: strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")}
		p.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
		p.stderr, _ = os.Readlink(filepath.Join(dir, "fd", "2"))
		out = append(out, p)
	}
	return out
}

// procStat returns a process's state letter and start time (clock ticks
// since boot), from /proc/<pid>/stat.
func procStat(pid int) (state byte, start uint64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 20 {
		return 0, 0, false
	}
	start, _ = strconv.ParseUint(f[19], 10, 64) // field 22
	return f[0][0], start, true
}

// alive reports whether pid is a process that has not exited (a zombie has).
func alive(pid int) bool {
	st, _, ok := procStat(pid)
	return ok && st != 'Z' && st != 'X'
}

// killLeftovers kills every process a daemon left running in dir: monitors
// (found by their command line, working directory or stderr) and containers
// (found by libcontainer's state under execRoot), and removes the
// containers' cgroups. It returns what it had to kill. With settle, the
// processes that exit by themselves once the daemon is gone (spare
// monitors) get waitTimeout to do so first; anything still there then is
// a leftover.
func killLeftovers(t *testing.T, dir, execRoot string, settle bool) (killed []string) {
	mine := func() []process {
		var out []process
		for _, p := range processes() {
			if p.pid != os.Getpid() && (strings.Contains(strings.Join(p.args, " "), dir+"/") || under(p.cwd, dir) || under(p.stderr, dir)) {
				out = append(out, p)
			}
		}
		return out
	}
	if settle {
		poll(func() bool { return len(mine()) == 0 }, waitTimeout)
	}
	for _, p := range mine() {
		t.Logf("cleanup: killing leftover process %d: %q (cwd %s, stderr %s)", p.pid, p.args, p.cwd, p.stderr)
		killed = append(killed, fmt.Sprintf("process %d %q", p.pid, p.args))
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	states, _ := filepath.Glob(filepath.Join(execRoot, "runc", "*", "state.json"))
	for _, path := range states {
		var st struct {
			Pid         int               `json:"init_process_pid"`
			Start       uint64            `json:"init_process_start"`
			CgroupPaths map[string]string `json:"cgroup_paths"`
		}
		b, err := os.ReadFile(path)
		if err != nil || json.Unmarshal(b, &st) != nil {
			continue
		}
		if _, start, ok := procStat(st.Pid); ok && start == st.Start && alive(st.Pid) {
			id := filepath.Base(filepath.Dir(path))
			t.Logf("cleanup: killing leftover container %s (pid %d)", id, st.Pid)
			killed = append(killed, fmt.Sprintf("container %s (pid %d)", id, st.Pid))
			_ = syscall.Kill(st.Pid, syscall.SIGKILL)
			poll(func() bool { return !alive(st.Pid) }, waitTimeout)
		}
		for _, cg := range st.CgroupPaths {
			_ = os.Remove(cg)
		}
	}
	return killed
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

var octalEscape = regexp.MustCompile(`\\[0-7]{3}`)

func unescapeMountinfo(s string) string {
	return octalEscape.ReplaceAllStringFunc(s, func(e string) string {
		n, _ := strconv.ParseUint(e[1:], 8, 8)
		return string(rune(n))
	})
}

// unmountUnder lazily unmounts whatever is still mounted at or below dir.
func unmountUnder(t *testing.T, dir string) {
	for range 10 {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return
		}
		for _, mp := range mps {
			t.Logf("cleanup: unmounting leftover %s", mp)
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
				t.Logf("cleanup: unmount %s: %v", mp, err)
			}
		}
	}
	t.Errorf("cleanup: still mounted under %s: %v", dir, mountsUnder(dir))
}

// storeSnapshot describes the store: every entry of <data-root>/plugins and
// of its tmp/, with the bytes of each plugin's config.json.
func (d *daemon) storeSnapshot(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join(d.dataRoot, "plugins")
	snap := map[string]string{}
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-removing") {
			// A plugin rm already answered for, whose files the daemon
			// deletes in the background: no longer an entry.
			continue
		}
		b, _ := os.ReadFile(filepath.Join(root, e.Name(), "config.json"))
		snap[e.Name()] = string(b)
	}
	tmp, err := os.ReadDir(filepath.Join(root, "tmp"))
	require.NoError(t, err)
	for _, e := range tmp {
		snap["tmp/"+e.Name()] = ""
	}
	return snap
}

// events subscribes to the daemon's GET /events. The subscription is live
// when events returns; it ends with the test.
func (d *daemon) events(t *testing.T) <-chan events.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://plugdbg/events", nil)
	require.NoError(t, err)
	resp, err := unixHTTP(d.sock, 0).Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ch := make(chan events.Message, 1024)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var m events.Message
			if err := dec.Decode(&m); err != nil {
				return
			}
			select {
			case ch <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// volumeNames calls VolumeDriver.List on a plugin socket.
func volumeNames(t *testing.T, sock string) []string {
	t.Helper()
	names, err := listVolumes(testCtx(t), sock)
	require.NoError(t, err, "VolumeDriver.List on %s", sock)
	return names
}

func listVolumes(ctx context.Context, sock string) ([]string, error) {
	c := probe.New(sock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var ret struct {
		Volumes []struct{ Name, Mountpoint string }
		Err     string
	}
	if err := c.Call(ctx, "VolumeDriver.List", map[string]any{}, &ret); err != nil {
		return nil, err
	}
	if ret.Err != "" {
		return nil, fmt.Errorf("VolumeDriver.List: %s", ret.Err)
	}
	names := []string{}
	for _, v := range ret.Volumes {
		names = append(names, v.Name)
	}
	return names, nil
}

// createVolume calls VolumeDriver.Create on a plugin socket.
func createVolume(t *testing.T, sock, name string) {
	t.Helper()
	c := probe.New(sock)
	defer c.Close()
	var ret struct{ Err string }
	require.NoError(t, c.Call(testCtx(t), "VolumeDriver.Create", map[string]any{"Name": name}, &ret))
	require.Empty(t, ret.Err, "VolumeDriver.Create %s", name)
}

// logLines returns the lines of a daemon log that contain every one of subs.
func logLines(log string, subs ...string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}

// holdOpen holds the first open of a file directly in dir, or of dir
// itself, whose name (at the time of the open: a mark follows the inode
// through renames) contains sub, with a fanotify permission event, until
// release is called; held receives the file's path. Every other open in
// dir goes through.
func holdOpen(t *testing.T, dir, sub string) (held <-chan string, release func()) {
	t.Helper()
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_LARGEFILE)
	require.NoError(t, err, "fanotify_init")
	f := os.NewFile(uintptr(fd), "fanotify")
	require.NoError(t, unix.FanotifyMark(fd, unix.FAN_MARK_ADD, unix.FAN_OPEN_PERM|unix.FAN_EVENT_ON_CHILD|unix.FAN_ONDIR, unix.AT_FDCWD, dir), "fanotify_mark %s", dir)
	heldc := make(chan string, 1)
	releasec := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(releasec) }) }
	done := make(chan struct{})
	t.Cleanup(func() {
		release()
		f.Close() // the kernel allows whatever is still pending
		<-done
	})
	respond := func(evFd int32) {
		resp := unix.FanotifyResponse{Fd: evFd, Response: unix.FAN_ALLOW}
		_, _ = f.Write(unsafe.Slice((*byte)(unsafe.Pointer(&resp)), unsafe.Sizeof(resp)))
		_ = unix.Close(int(evFd))
	}
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		holding := false
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+int(unsafe.Sizeof(unix.FanotifyEventMetadata{})) <= n; {
				ev := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[off]))
				off += int(ev.Event_len)
				if ev.Fd < 0 {
					continue
				}
				path, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", ev.Fd))
				if !holding && strings.Contains(filepath.Base(path), sub) {
					holding = true
					heldc <- path
					go func(fd int32) {
						<-releasec
						respond(fd)
					}(ev.Fd)
					continue
				}
				respond(ev.Fd)
			}
		}
	}()
	return heldc, release
}

// assertMonitorGone checks that plugin id's monitor exits. A monitor exits
// just after it delivered its plugin's exit to the daemon, so it may outlive
// the API call that stopped the plugin by a moment.
func assertMonitorGone(t *testing.T, d *daemon, id string) bool {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		pids := d.monitorPids(id)
		if len(pids) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return assert.Fail(t, "monitor still runs", "plugin %s: monitor pids %v after %s", id, pids, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
