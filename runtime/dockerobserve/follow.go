package dockerobserve

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/runtime/atomicfile"
	"github.com/plugdbg/plugdbg/runtime/observe"
)

// The inotify events a follower reacts to: in dockerd's plugin root, the
// plugin's directory appearing (dockerd makes it at each start of the
// plugin, and removes it at each exit); in that directory, any change of
// the socket's names, and the directory's own removal.
const (
	rootMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_ONLYDIR
	dirMask  = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_MOVED_FROM |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
)

// follower keeps a recording point on a docker plugin's socket across the
// plugin's runs: each time the socket is made anew, the point goes on the
// new one, counting into the same Stats. It reacts to inotify events, and
// each time reads what the names hold rather than trusting the events'
// order, so that any sequence of changes ends in the right state.
type follower struct {
	socket string // the plugin's socket path
	dir    string // the plugin's directory, <root>/<id>
	root   string // dockerd's plugin root
	id     string
	aside  string // where the plugin's socket is while the point is on it
	record string // the point record's path
	stats  *observe.Stats
	logf   func(format string, args ...any)

	inotify *os.File
	fd      int
	rootWd  int

	mu     sync.Mutex
	dirWd  int    // the watch of dir; -1: none
	dirID  fileID // the watched dir
	point  *observe.Point
	proxy  fileID // the point's socket
	plugin fileID // the plugin's socket under the current (or last) point
	err    error
	ended  bool
}

func newFollower(cfg Config, recordPath string, stats *observe.Stats, logf func(string, ...any)) *follower {
	dir := filepath.Dir(cfg.Socket)
	return &follower{
		socket: cfg.Socket, dir: dir, root: filepath.Dir(dir), id: cfg.ID,
		aside: observe.AsidePath(cfg.Socket), record: recordPath,
		stats: stats, logf: logf, dirWd: -1,
	}
}

// start watches dockerd's plugin root and puts the point on the plugin's
// socket if it exists; from then on, the point follows the socket.
func (f *follower) start() error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	wd, err := unix.InotifyAddWatch(fd, f.root, rootMask)
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch dockerd's plugin root %s: %w", f.root, err)
	}
	f.inotify, f.fd, f.rootWd = os.NewFile(uintptr(fd), "inotify"), fd, wd
	f.mu.Lock()
	f.sync()
	f.mu.Unlock()
	go f.loop()
	return nil
}

func (f *follower) loop() {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	names := map[string]bool{filepath.Base(f.socket): true, filepath.Base(f.aside): true, filepath.Base(traceAside(f.socket)): true}
	for {
		n, err := f.inotify.Read(buf)
		if err != nil {
			return // closed by end
		}
		f.mu.Lock()
		relevant := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int(int32(binary.NativeEndian.Uint32(buf[off:])))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+nameLen]), "\x00")
			off += unix.SizeofInotifyEvent + nameLen
			switch {
			case mask&unix.IN_Q_OVERFLOW != 0:
				relevant = true // events were lost: look at everything
			case wd == f.rootWd:
				if mask&unix.IN_IGNORED != 0 {
					f.err = fmt.Errorf("dockerd's plugin root %s was removed: the point cannot follow the plugin any more", f.root)
				}
				relevant = relevant || name == f.id
			case wd == f.dirWd:
				if mask&unix.IN_IGNORED != 0 {
					f.dirWd = -1 // the plugin's directory is gone (the plugin exited)
				}
				relevant = relevant || name == "" || names[name]
			}
		}
		if relevant {
			f.sync()
		}
		f.mu.Unlock()
	}
}

// sync brings the point in line with what the names hold now. Caller
// holds f.mu.
func (f *follower) sync() {
	if f.ended {
		return
	}
	f.watchDir()
	if f.point != nil {
		if f.intact() {
			return
		}
		f.logf("the plugin's socket %s has changed (the plugin exited, or made a new socket): the point comes off it", f.socket)
		f.drop()
	}
	if !isSocket(f.socket) {
		return // the plugin does not run: wait for its directory and socket
	}
	f.install()
}

// watchDir watches the plugin's directory as it is now: a new directory
// (a new run of the plugin) gets a new watch. A socket made before the
// watch is found by the caller, which looks after it. Caller holds f.mu.
func (f *follower) watchDir() {
	id := idOf(f.dir)
	if f.dirWd >= 0 && !id.none() && id == f.dirID {
		return
	}
	if f.dirWd >= 0 {
		_, _ = unix.InotifyRmWatch(f.fd, uint32(f.dirWd)) // of a directory removed since
		f.dirWd = -1
	}
	if id.none() {
		return
	}
	wd, err := unix.InotifyAddWatch(f.fd, f.dir, dirMask)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			f.err = fmt.Errorf("watch the plugin's directory %s: %w", f.dir, err)
		}
		return
	}
	f.dirWd, f.dirID = wd, idOf(f.dir)
}

// intact reports whether the point is still between the socket's path and
// the plugin: its socket at the path (or at the trace's aside name, under
// a trace), the plugin's at the aside name. Caller holds f.mu.
func (f *follower) intact() bool {
	if idOf(f.aside) != f.plugin {
		return false
	}
	return idOf(f.socket) == f.proxy || idOf(traceAside(f.socket)) == f.proxy
}

// install puts the point on the plugin's socket and records where it is.
// Caller holds f.mu.
func (f *follower) install() {
	at := f.socket // where the point's socket will be: the trace's name under a trace
	if isSocket(traceAside(f.socket)) {
		at = traceAside(f.socket)
	}
	p, err := observe.Install(f.socket, f.stats)
	if err != nil {
		f.err = err
		f.logf("%v", err)
		return
	}
	f.point, f.proxy, f.plugin, f.err = p, idOf(at), idOf(f.aside), nil
	rec := record{Socket: f.socket, ProxyIno: f.proxy.Ino, ProxyBirth: f.proxy.Birth, PluginIno: f.plugin.Ino, PluginBirth: f.plugin.Birth}
	if err := atomicfile.WriteJSON(f.record, rec, 0o600); err != nil {
		f.logf("record the point (a kill -9 of this helper would leave the plugin's socket at %s): %v", f.aside, err)
	}
	f.logf("point in place on %s", f.socket)
}

// drop takes off a point that is no longer intact. observe.Point.Remove
// finds the point's socket by its inode number alone, and swaps it with
// the aside name: on a file system that gives a removed file's number to
// the next new file, a socket the plugin made since could be taken for
// the point's. So the aside name is dealt with first (restoreAside): with
// it gone, Remove swaps nothing and only stops the point. Caller holds
// f.mu.
func (f *follower) drop() {
	p := f.point
	f.point = nil
	f.restoreAside()
	if _, err := os.Lstat(f.aside); errors.Is(err, os.ErrNotExist) {
		_ = p.Remove() // fails to swap (nothing aside), and stops the point
	} else if err := p.Remove(); err != nil {
		f.logf("%v", err)
	}
	// The point's socket, dead now, if it is still at the path.
	if idOf(f.socket) == f.proxy && !listening(f.socket) {
		_ = os.Remove(f.socket)
	}
	_ = os.Remove(f.record)
}

// restoreAside deals with the plugin's socket the point moved aside, if it
// is still there. A live one (the plugin still listens on it) gets its
// name back if that is free. A dead one is removed: the plugin's run has
// ended, and its next run makes a new socket (a plugin removes what is at
// its path, then listens there: a dead socket put back in between would
// fail that listen). Caller holds f.mu.
func (f *follower) restoreAside() {
	if f.plugin.none() || idOf(f.aside) != f.plugin {
		return
	}
	var err error
	if _, lerr := os.Lstat(f.socket); errors.Is(lerr, os.ErrNotExist) && listening(f.aside) {
		err = os.Rename(f.aside, f.socket)
	} else {
		err = os.Remove(f.aside)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.logf("the plugin's socket left at %s: %v", f.aside, err)
	}
}

// listening reports whether a process listens on the unix socket at path:
// a dead socket refuses at once; a busy one (a full queue) counts as
// listening.
func listening(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return !errors.Is(err, unix.ECONNREFUSED) && !errors.Is(err, unix.ENOENT)
	}
	c.Close()
	return true
}

// end takes the point off for good, putting the plugin's socket back at
// its path, and stops following. It returns the point (nil if none was in
// place), whose connections go on until their clients close them.
func (f *follower) end() (*observe.Point, error) {
	f.mu.Lock()
	f.ended = true
	p := f.point
	var err error
	switch {
	case p == nil:
	case f.intact():
		f.point = nil
		if err = p.Remove(); err == nil {
			_ = os.Remove(f.record)
		}
	default:
		f.drop() // the plugin's run ended or made a new socket: nothing to put back
	}
	f.mu.Unlock()
	if f.inotify != nil {
		f.inotify.Close()
	}
	return p, err
}

// status is the point's state.
func (f *follower) status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.point != nil:
		return Status{Recording: true}
	case f.err != nil:
		return Status{Error: f.err.Error()}
	case f.ended:
		return Status{Error: "the helper has ended"}
	}
	return Status{Error: fmt.Sprintf("waiting for the plugin's socket %s: the plugin does not run", f.socket)}
}

// repair undoes what a helper killed with its point in place left, as its
// record says: the plugin's socket gets its name back (over the dead
// point's socket, or a free name if the plugin still listens), or is
// removed if a socket made since has the name, or it is dead.
// Nothing is touched unless the inodes match the record. The caller holds
// the helper's lock.
func repair(path string, logf func(string, ...any)) error {
	data, err := readBounded(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil || rec.Socket == "" {
		logf("ignoring a bad point record %s: %v", path, err)
		return os.Remove(path)
	}
	aside := observe.AsidePath(rec.Socket)
	proxy := fileID{Ino: rec.ProxyIno, Birth: rec.ProxyBirth}
	if plugin := (fileID{Ino: rec.PluginIno, Birth: rec.PluginBirth}); !plugin.none() && idOf(aside) == plugin {
		// The dead point's socket, at the path or at the trace's aside
		// name: dead, so that a socket made since is never taken for it.
		to := ""
		for _, name := range []string{rec.Socket, traceAside(rec.Socket)} {
			if idOf(name) == proxy && !listening(name) {
				to = name
				break
			}
		}
		if _, err := os.Lstat(rec.Socket); to == "" && errors.Is(err, os.ErrNotExist) && listening(aside) {
			to = rec.Socket
		}
		if to != "" {
			if err := os.Rename(aside, to); err != nil {
				return fmt.Errorf("put the plugin's socket back at %s: %w", to, err)
			}
			logf("put the plugin's socket back at %s (its point's helper had ended without taking it off)", to)
		} else if err := os.Remove(aside); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the stale plugin socket %s: %w", aside, err)
		}
	}
	return os.Remove(path)
}

// fileID identifies a file: its inode number and, where the file system
// keeps it, its birth time. A file system such as ext4 gives a removed
// file's inode number to the next new file, so the number alone could
// take a socket the plugin made since for an older one.
type fileID struct {
	Ino   uint64
	Birth int64 // nanoseconds since the epoch; 0: not kept
}

func (id fileID) none() bool { return id.Ino == 0 }

// idOf is path's fileID, not following a link; none if it cannot be read.
func idOf(path string) fileID {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_BTIME, &stx); err != nil {
		return fileID{}
	}
	id := fileID{Ino: stx.Ino}
	if stx.Mask&unix.STATX_BTIME != 0 {
		id.Birth = stx.Btime.Sec*1e9 + int64(stx.Btime.Nsec)
	}
	return id
}
