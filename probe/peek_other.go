//go:build !unix

package probe

import "syscall"

// peekIdle takes the connection as alive where there is no
// MSG_PEEK|MSG_DONTWAIT: a connection the plugin closed while idle then
// fails the next call, as it can with net/http.
func peekIdle(syscall.RawConn) bool { return true }
