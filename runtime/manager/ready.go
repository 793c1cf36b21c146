package manager

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/format/config"
	"github.com/plugdbg/plugdbg/probe"
)

// activate calls Plugin.Activate until it answers or ctx ends, and checks
// that the plugin implements what its config declares. A plugin that
// answers 404 is accepted: Docker sends managed plugins no Activate.
func (m *Manager) activate(ctx context.Context, e *entry, socket string, done <-chan struct{}) (warning string, err error) {
	c := probe.New(socket)
	defer c.Close()
	wait := 2 * time.Millisecond
	var lastErr error
	for {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		man, err := c.Activate(callCtx)
		cancel()
		switch {
		case err == nil:
			if err := config.CheckImplements(e.p.Config.Interface.Types, man.Implements); err != nil {
				return "", errkind.Invalid(err)
			}
			return "", nil
		case probe.IsNotFound(err):
			return "plugin does not answer Plugin.Activate (HTTP 404); accepted as Docker does", nil
		}
		var se *probe.StatusError
		if errors.As(err, &se) {
			return "", fmt.Errorf("Plugin.Activate failed: %w", err)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("plugin socket %s did not answer Plugin.Activate: %w", socket, lastErr)
		case <-done:
			return "", errExited
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

var errExited = errors.New("plugin exited")

// listeningSockets lists the unix sockets bound in the network namespace of
// pid (as paths seen by the plugin), to name in an error the sockets a
// plugin did create when the expected one never appeared.
func listeningSockets(pid int) []string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/unix", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 8 && strings.HasPrefix(fields[7], "/") {
			out = append(out, fields[7])
		}
	}
	return out
}

// socketsIn lists socket files in dir, recursively up to a bound.
func socketsIn(dir string) []string {
	var out []string
	seen := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if seen++; seen > 20000 {
			return filepath.SkipAll
		}
		if d.Type()&fs.ModeSocket != 0 {
			out = append(out, p)
		}
		return nil
	})
	return out
}
