// Package fdpass reads the descriptors a process sent on a unix socket
// with SCM_RIGHTS: the files of a monitor's exec request, and the terminal
// libcontainer sends back for an exec with a tty.
package fdpass

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Files returns the descriptors of the SCM_RIGHTS messages in oob, the
// control data of one recvmsg, as files named by name. Other control
// messages are passed over. The caller owns the files, also those after
// the ones it wants.
func Files(oob []byte, name func(fd int) string) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue // not SCM_RIGHTS
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), name(fd)))
		}
	}
	return files, nil
}
