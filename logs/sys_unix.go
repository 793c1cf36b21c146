//go:build linux || darwin

package logs

import (
	"errors"
	"os"
	"syscall"
)

// lockShared takes f's shared flock and returns its release; ok is false
// where there is no lock (a file system without flock).
func lockShared(f *os.File) (unlock func(), ok bool) {
	fd := int(f.Fd())
	if syscall.Flock(fd, syscall.LOCK_SH) != nil {
		return nil, false
	}
	return func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }, true
}

// tryLockExclusive takes f's exclusive flock without waiting. busy means
// another holder has it; any other failure leaves f unlocked (unlock nil).
func tryLockExclusive(f *os.File) (unlock func(), busy bool) {
	fd := int(f.Fd())
	err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, true
	}
	if err != nil {
		return nil, false
	}
	return func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }, false
}

// freeBytes is what root may still write on f's filesystem.
func freeBytes(f *os.File) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, err
	}
	return int64(st.Bfree) * int64(st.Bsize), nil
}
