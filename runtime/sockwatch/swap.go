package sockwatch

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exchange swaps the names a and b in one step (renameat2
// RENAME_EXCHANGE): a client dialling either path meanwhile reaches one
// socket or the other, never none. The trace proxy and the recording point
// of observed plugins take a plugin's socket path this way.
func Exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}

// Inode is path's inode number (0 if it cannot be read): which socket a
// name holds, so that a swap back never moves a socket made since.
func Inode(path string) uint64 {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
