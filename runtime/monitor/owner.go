package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	cgmanager "github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

// A monitor owns its directory for its whole life by holding an exclusive
// flock on monitor.lock there, and records who it is in monitor.pid. The
// kernel drops the lock when the process ends, however it ends, so:
//   - a new monitor waits for the previous one of the directory to be
//     gone before it touches the container: two monitors never run one
//     container;
//   - Cleanup kills the owner it finds in monitor.pid and knows it is gone
//     (not merely signalled) once it holds the lock itself.
const (
	lockFile = "monitor.lock"
	pidFile  = "monitor.pid"
)

// lockTimeout bounds how long a new monitor waits for the previous monitor
// of its directory to exit, and Cleanup for a monitor it killed to be gone.
const lockTimeout = 10 * time.Second

// owner identifies a monitor process; the start time tells it apart from a
// later process that reuses its pid.
type owner struct {
	Pid   int    `json:"Pid"`
	Start uint64 `json:"Start"` // clock ticks after boot: field 22 of /proc/<pid>/stat
}

// errStale means a monitor was handed a directory that has since been
// given to another run: the daemon that handed it over is gone, and a
// later one cleaned up or started the plugin anew.
var errStale = errors.New("stale start: the monitor directory now belongs to another run")

// claim makes the calling monitor the owner of dir, once any earlier owner
// is gone, and returns the config to run with the held lock. token is what
// the daemon wrote in the config it handed over ("": not checked).
func claim(dir, token string) (Config, *os.File, error) {
	if token != "" {
		// Fail fast, without waiting for the lock of a run that is not
		// ours.
		if cfg, err := readConfig(dir); err == nil && cfg.Token != token {
			return Config{}, nil, errStale
		}
	}
	lock, err := lockDir(dir, lockTimeout, nil)
	if err != nil {
		return Config{}, nil, err
	}
	cfg, err := readConfig(dir)
	if err == nil && token != "" && cfg.Token != token {
		err = errStale
	}
	if err == nil {
		var me owner
		me.Pid = os.Getpid()
		if me.Start, err = procStart(me.Pid); err == nil {
			err = atomicfile.WriteRunStateJSON(filepath.Join(dir, pidFile), me, 0o600)
		}
	}
	if err != nil {
		lock.Close()
		return Config{}, nil, err
	}
	return cfg, lock, nil
}

func readConfig(dir string) (Config, error) {
	var cfg Config
	path := filepath.Join(dir, configFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read monitor config: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("parse monitor config %s: %w", path, err)
	}
	return cfg, nil
}

// lockDir takes the lock of monitor directory dir, waiting up to timeout
// for its holder to release it; busy, if not nil, is called each time the
// lock is found held. It fails with an fs.ErrNotExist error when dir does
// not exist, or stops existing meanwhile.
func lockDir(dir string, timeout time.Duration, busy func()) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock monitor dir: %w", err)
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if !errors.Is(err, unix.EWOULDBLOCK) {
				break
			}
			if time.Now().After(deadline) {
				f.Close()
				holder := "another process"
				if o, ok := readOwner(dir); ok {
					holder = "pid " + strconv.Itoa(o.Pid)
				}
				return nil, fmt.Errorf("lock monitor dir %s: %s still holds it after %s", dir, holder, timeout)
			}
			if busy != nil {
				busy()
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock monitor dir: %w", err)
		}
		// The lock counts only on the file still at path: a Cleanup may
		// have removed the directory while we waited.
		var held, now unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &held); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock monitor dir: %w", err)
		}
		err = unix.Stat(path, &now)
		if err == nil && held.Dev == now.Dev && held.Ino == now.Ino {
			return f, nil
		}
		f.Close()
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("lock monitor dir: %w", serr)
		}
	}
}

func readOwner(dir string) (owner, bool) {
	var o owner
	data, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil || json.Unmarshal(data, &o) != nil || o.Pid <= 0 {
		return o, false
	}
	return o, true
}

// procStart returns the start time of process pid, in clock ticks after
// boot (field 22 of /proc/<pid>/stat).
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// signalOwner sends sig to the monitor recorded in dir, if that very
// process still runs, and returns its pid (0: none runs).
func signalOwner(dir string, sig unix.Signal) int {
	o, ok := readOwner(dir)
	if !ok {
		return 0
	}
	// A pidfd pins the process: checked once, it cannot be another one
	// that reused the pid when the signal goes.
	fd, err := unix.PidfdOpen(o.Pid, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	if start, err := procStart(o.Pid); err != nil || start != o.Start {
		return 0
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return 0
	}
	return o.Pid
}

// Cleanup ends and removes whatever is left of a plugin's run: the monitor
// owning dir (killed), the container id under stateRoot and every process
// of its cgroups (killed), its libcontainer state, its cgroups and dir
// itself. It works from whatever a run got to write before it was
// interrupted, at any point, and is a no-op when nothing is left. dir goes
// last, and only once the rest is gone: its config names the cgroups, so a
// Cleanup that fails can be tried again.
func Cleanup(dir, stateRoot, id string) error {
	lock, err := lockDir(dir, lockTimeout, func() { signalOwner(dir, unix.SIGKILL) })
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No directory, so no monitor: one that was handed it and has
		// not claimed it yet fails to.
	case err != nil:
		return fmt.Errorf("stop monitor: %w", err)
	default:
		defer lock.Close() // after dir is removed: nobody claims it meanwhile
	}
	var errs []error
	cgroupPath := cgroupPathOf(dir, stateRoot, id)
	if err := removeContainer(stateRoot, id); err != nil {
		errs = append(errs, err)
	}
	if cgroupPath != "" {
		if err := removeCgroups(cgroupPath); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove monitor dir: %w", err)
	}
	return nil
}

// removeContainer removes container id's libcontainer state, killing its
// processes if it still runs.
func removeContainer(stateRoot, id string) error {
	ct, err := libcontainer.Load(stateRoot, id)
	if err != nil {
		// Nothing, a container created but never started (no state.json
		// yet), or state that cannot be read: its processes, if any, are
		// found through its cgroups.
		if rerr := os.RemoveAll(filepath.Join(stateRoot, id)); rerr != nil {
			return fmt.Errorf("remove container state: %w", rerr)
		}
		return nil
	}
	if st, err := ct.Status(); err == nil && st != libcontainer.Stopped {
		_ = ct.Signal(unix.SIGKILL)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if st, err := ct.Status(); err != nil || st == libcontainer.Stopped {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := ct.Destroy(); err != nil {
		return fmt.Errorf("remove container: %w", err)
	}
	return nil
}

// cgroupPathOf returns the cgroup path (as in the OCI spec, e.g.
// /plugdbg/<id>) of the container a run in dir started, from the monitor's
// config or else from libcontainer's state; "" if neither says.
func cgroupPathOf(dir, stateRoot, id string) string {
	if cfg, err := readConfig(dir); err == nil && cfg.Spec != nil && cfg.Spec.Linux != nil && cfg.Spec.Linux.CgroupsPath != "" {
		return cfg.Spec.Linux.CgroupsPath
	}
	var st struct {
		Config struct {
			Cgroups struct {
				Path string `json:"path"`
			} `json:"cgroups"`
		} `json:"config"`
	}
	data, err := os.ReadFile(filepath.Join(stateRoot, id, "state.json"))
	if err != nil || json.Unmarshal(data, &st) != nil {
		return ""
	}
	return st.Config.Cgroups.Path
}

// cgroupDirs returns the directories of cgroup path in every hierarchy of
// the host, whether they exist or not.
func cgroupDirs(path string) (map[string]string, error) {
	m, err := cgmanager.New(&cgroups.Cgroup{Path: path, Resources: &cgroups.Resources{}})
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", path, err)
	}
	return m.GetPaths(), nil
}

// removeCgroups kills every process in cgroup path, in every hierarchy,
// and removes the cgroup. Processes left in it are those of a container
// whose start was cut short, before libcontainer recorded it.
func removeCgroups(path string) error {
	dirs, err := cgroupDirs(path)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var pids []int
		for _, dir := range dirs {
			p, err := cgroups.GetAllPids(dir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("list processes of cgroup %s: %w", dir, err)
			}
			pids = append(pids, p...)
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of cgroup %s still run after SIGKILL", pids, path)
		}
		// A frozen process would not die: thaw first.
		if d, ok := dirs["freezer"]; ok {
			_ = cgroups.WriteFile(d, "freezer.state", string(cgroups.Thawed))
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cgroups.RemovePaths(dirs); err != nil {
		return fmt.Errorf("remove cgroup %s: %w", path, err)
	}
	return nil
}

// Leftover is what is left on the host of one plugin's runs.
type Leftover struct {
	Monitor    bool // a live monitor owns the directory
	MonitorPid int  // its pid, if it recorded it yet
	Container  int  // the pid of the container's init, if it runs
	State      bool // libcontainer state
	Cgroups    bool // cgroup directories
	Dir        bool // the monitor directory
	// Finished: the monitor directory records the exit of its run and
	// nothing else is left: the normal state of a stopped plugin.
	Finished bool
}

// Running reports whether a monitor or the container still runs.
func (l Leftover) Running() bool { return l.Monitor || l.Container != 0 }

// String lists what is left, for logs.
func (l Leftover) String() string {
	var parts []string
	switch {
	case l.Monitor && l.MonitorPid != 0:
		parts = append(parts, "monitor pid "+strconv.Itoa(l.MonitorPid))
	case l.Monitor:
		parts = append(parts, "a monitor")
	}
	if l.Container != 0 {
		parts = append(parts, "container pid "+strconv.Itoa(l.Container))
	}
	if l.State {
		parts = append(parts, "container state")
	}
	if l.Cgroups {
		parts = append(parts, "cgroups")
	}
	if l.Dir && !l.Finished {
		parts = append(parts, "an unfinished monitor dir")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// Scan finds what runs of plugins left under root (the monitor dirs) and
// stateRoot (libcontainer's), by plugin ID. The daemon calls it at start,
// before it starts or stops anything, to reconcile what it finds with what
// it recorded.
func Scan(root, stateRoot string) (map[string]Leftover, error) {
	out := map[string]Leftover{}
	var errs []error
	for _, r := range []string{root, stateRoot} {
		ents, err := os.ReadDir(r)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("scan %s: %w", r, err))
		}
		for _, e := range ents {
			if e.IsDir() {
				out[e.Name()] = Leftover{}
			}
		}
	}
	for id := range out {
		out[id] = scanOne(filepath.Join(root, id), stateRoot, id)
	}
	return out, errors.Join(errs...)
}

func scanOne(dir, stateRoot, id string) Leftover {
	var l Leftover
	if _, err := os.Stat(dir); err == nil {
		l.Dir = true
		if f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDONLY, 0); err == nil {
			if errors.Is(unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK) {
				l.Monitor = true
				if o, ok := readOwner(dir); ok {
					if start, err := procStart(o.Pid); err == nil && start == o.Start {
						l.MonitorPid = o.Pid
					}
				}
			}
			f.Close()
		}
	}
	if _, err := os.Stat(filepath.Join(stateRoot, id)); err == nil {
		l.State = true
		if ct, err := libcontainer.Load(stateRoot, id); err == nil {
			if st, err := ct.Status(); err == nil && st != libcontainer.Stopped {
				if s, err := ct.State(); err == nil {
					l.Container = s.InitProcessPid
				}
			}
		}
	}
	if path := cgroupPathOf(dir, stateRoot, id); path != "" {
		if dirs, err := cgroupDirs(path); err == nil {
			for _, d := range dirs {
				if _, err := os.Stat(d); err == nil {
					l.Cgroups = true
				}
			}
		}
	}
	if l.Dir && !l.Monitor && l.Container == 0 && !l.State && !l.Cgroups {
		_, err := os.Stat(filepath.Join(dir, exitFile))
		l.Finished = err == nil && len(atomicfile.Temps(dir)) == 0
	}
	return l
}
