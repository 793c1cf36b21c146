package daemon

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/runtime/listen"
)

// DefaultSocketGroup is the group that may use the daemon's unix sockets
// when it exists, as dockerd's default --group is docker: an administrator
// lets users in with `groupadd plugdbg` and `usermod -aG plugdbg USER`,
// and a machine without the group keeps the socket to root.
const DefaultSocketGroup = "plugdbg"

// socketGroup resolves --group, a group name or a numeric gid, to a gid.
// ok is false when the sockets stay root's: name is "", or it is the
// default group and the machine has none (required false). A group that
// was asked for by name and does not exist is an error.
func socketGroup(name string, required bool) (gid int, ok bool, err error) {
	if name == "" {
		return 0, false, nil
	}
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 {
			return 0, false, fmt.Errorf("invalid --group %q: a group name or a gid ≥ 0", name)
		}
		return n, true, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			if !required {
				return 0, false, nil
			}
			return 0, false, fmt.Errorf("invalid --group %q: no such group (create it with `groupadd %s`, or give an existing one)", name, name)
		}
		return 0, false, fmt.Errorf("look up --group %q: %w", name, err)
	}
	n, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, false, fmt.Errorf("look up --group %q: gid %q is not a number", name, g.Gid)
	}
	return n, true, nil
}

// chownSockets gives the unix sockets among lns to root:gid. They were
// made with mode 0660 (listen.Unix), so the group may connect and no one
// else may.
func chownSockets(lns []listen.Listener, gid int, group string, log *logrus.Logger) error {
	for _, ln := range lns {
		path, ok := strings.CutPrefix(ln.URL, "unix://")
		if !ok {
			continue
		}
		if err := os.Lchown(path, 0, gid); err != nil {
			return fmt.Errorf("give socket %s to group %s: %w", path, group, err)
		}
		log.Infof("socket %s: group %s (gid %d) may use it", path, group, gid)
	}
	return nil
}
