package execproto

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Validate reports what in c no process could be started with, naming the
// field: a NUL byte in any string (the kernel would cut the string there)
// and a WorkingDir that is not absolute (it would be resolved against
// whatever directory the runtime happens to start in). The daemon checks
// before it starts anything; the CLI checks its flags with it before it
// asks. A missing command is the caller's to report.
func (c Config) Validate() error {
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
