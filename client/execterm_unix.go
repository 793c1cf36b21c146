//go:build unix

package client

import (
	"os"
	"syscall"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// ForwardedSignals are the signals an attached exec passes on to the
// process instead of acting on them itself.
var ForwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2,
}

// resizeSignals tell that the user's terminal changed size.
var resizeSignals = []os.Signal{syscall.SIGWINCH}

// makeRaw puts the user's terminal in raw mode, output processing
// included: the container's terminal already turns "\n" into "\r\n", and
// console.SetRaw leaves OPOST on, which would make that "\r\r\n".
func makeRaw(c console.Console) error {
	if err := c.SetRaw(); err != nil {
		return err
	}
	fd := int(c.Fd())
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return err
	}
	t.Oflag &^= unix.OPOST
	return unix.IoctlSetTermios(fd, ioctlSetTermios, t)
}
