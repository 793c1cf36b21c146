package types

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ExecConfig is what an exec runs: the JSON body of POST /plugins/{name}/exec.
type ExecConfig struct {
	Cmd []string `json:"Cmd"`
	// Env is KEY=VALUE pairs added to (and overriding) the plugin's own
	// environment.
	Env []string `json:"Env,omitempty"`
	// User is USER[:GROUP], names or numbers; names are resolved in the
	// plugin's /etc/passwd and /etc/group. Empty: the plugin's user.
	User string `json:"User,omitempty"`
	// WorkingDir is the process's directory; empty: the plugin's.
	WorkingDir  string `json:"WorkingDir,omitempty"`
	Tty         bool   `json:"Tty,omitempty"`
	AttachStdin bool   `json:"AttachStdin,omitempty"`
	// Toolbox runs Cmd[0] from the daemon's toolbox even if the plugin's
	// rootfs has it. Without it the toolbox is used only when the rootfs
	// lacks Cmd[0].
	Toolbox bool `json:"Toolbox,omitempty"`
	// Height and Width are the initial terminal size with Tty.
	Height uint16 `json:"Height,omitempty"`
	Width  uint16 `json:"Width,omitempty"`
}

// Validate reports what in c no process could be started with, naming the
// field: a NUL byte in any string (the kernel would cut the string there)
// and a WorkingDir that is not absolute (it would be resolved against
// whatever directory the runtime happens to start in). The daemon checks
// before it starts anything; the CLI checks its flags with it before it
// asks. A missing command is the caller's to report.
func (c ExecConfig) Validate() error {
	for i, a := range c.Cmd {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("Cmd[%d]: contains a NUL byte", i)
		}
	}
	for i, e := range c.Env {
		if strings.IndexByte(e, 0) >= 0 {
			return fmt.Errorf("Env[%d]: contains a NUL byte", i)
		}
	}
	if strings.IndexByte(c.User, 0) >= 0 {
		return errors.New("User: contains a NUL byte")
	}
	if strings.IndexByte(c.WorkingDir, 0) >= 0 {
		return errors.New("WorkingDir: contains a NUL byte")
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		return fmt.Errorf("WorkingDir %q: must be an absolute path in the container", c.WorkingDir)
	}
	return nil
}

// WindowSize is a terminal size, the payload of a Resize frame.
type WindowSize struct {
	Height uint16 `json:"Height"`
	Width  uint16 `json:"Width"`
}

// ExecExit is how the process ended, the payload of the Exit frame.
type ExecExit struct {
	// ExitCode is the process's exit status; 128+n when killed by signal
	// n, as shells report it; 126 or 127 when it could not be started.
	ExitCode int    `json:"ExitCode"`
	Signal   string `json:"Signal,omitempty"` // e.g. "SIGTERM" when killed by a signal
	// Error explains a process that could not be started or watched.
	Error string `json:"Error,omitempty"`
}
