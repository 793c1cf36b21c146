//go:build unix

package probe

import "syscall"

// peekIdle reports whether the connection has nothing to read now: a
// non-blocking MSG_PEEK finds it would wait. Reading would not do: Go
// fails a read whose deadline passed before trying it.
func peekIdle(rc syscall.RawConn) bool {
	alive := true
	var b [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait for the fd
	})
	return alive
}
