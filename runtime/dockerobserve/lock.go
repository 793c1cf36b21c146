package dockerobserve

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// errBusy means another process holds a helper's lock: a helper runs (or
// is starting) for that plugin.
var errBusy = errors.New("a helper holds the lock")

// lockFile takes the exclusive flock of path without waiting, creating the
// file if need be, and returns it held; errBusy if another process holds
// it. A holder unlinks the file before it releases the lock (unlock), so a
// lock taken on a file that was unlinked meanwhile locks nothing: it is
// taken again on the file now at path.
func lockFile(path string) (*os.File, error) {
	for range 8 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open lock %s: %w", path, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, errBusy
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Lstat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err2 != nil && !errors.Is(err2, os.ErrNotExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err2)
		}
	}
	return nil, fmt.Errorf("lock %s: the file keeps being replaced", path)
}

// unlock removes the lock file at path and releases f, its lock: in this
// order, so that whoever opens path next gets a new file, and the lock.
func unlock(path string, f *os.File) {
	if fi, err := os.Lstat(path); err == nil {
		if held, err := f.Stat(); err == nil && os.SameFile(held, fi) {
			_ = os.Remove(path)
		}
	}
	f.Close()
}

// isSocket reports whether path is a unix socket (not following a link).
func isSocket(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().Type() == os.ModeSocket
}
