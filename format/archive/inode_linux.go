package archive

import (
	"io/fs"
	"syscall"
)

// inode returns the device and inode of info's file and its link count.
func inode(info fs.FileInfo) (key [2]uint64, nlink uint64, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return key, 0, false
	}
	return [2]uint64{st.Dev, st.Ino}, uint64(st.Nlink), true
}
