// Package sockwatch reports, through inotify, when a file appears in a
// directory, so that whoever waits for a plugin's socket (the manager's
// enable, the monitor's recording point) reacts the moment the plugin
// creates it instead of polling; and it swaps a socket's name with a
// proxy's in one step, for whoever stands in front of one (trace, the
// recording point).
package sockwatch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Watch waits for one file name in one directory.
type Watch struct {
	f       *os.File
	created chan struct{}
}

// New watches dir for name: Created is closed once dir/name exists, or at
// once if it does already. Call it before the file can be created (before
// the plugin starts), so that no creation is missed. Close releases the
// inotify descriptor; call it in any case.
func New(dir, name string) (*Watch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	w := &Watch{f: os.NewFile(uintptr(fd), "inotify"), created: make(chan struct{})}
	go w.loop(filepath.Join(dir, name), name)
	return w, nil
}

// Created is closed once the file exists.
func (w *Watch) Created() <-chan struct{} { return w.created }

// Close stops watching.
func (w *Watch) Close() { w.f.Close() }

func (w *Watch) loop(path, name string) {
	if _, err := os.Lstat(path); err == nil {
		close(w.created)
		return
	}
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return // closed
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if strings.TrimRight(string(nameBytes), "\x00") == name {
				close(w.created)
				return
			}
		}
	}
}
