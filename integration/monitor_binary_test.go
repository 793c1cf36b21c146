package integration

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMonitorBinary: the daemon runs each plugin's monitor (and so its
// container's init) from a sealed copy of the plugdbgd-monitor beside it,
// and reports where the start went; a plugdbgd without one still runs
// plugins, from a sealed copy of itself, and says why they start slower.
func TestMonitorBinary(t *testing.T) {
	t.Run("beside the daemon", func(t *testing.T) {
		d := startDaemonWith(t, "--log-level", "debug")
		p := d.create(t, "mon", "volume")
		_, stderr, code := d.cli(t, "enable", "mon")
		require.Equal(t, 0, code, stderr)
		pids := d.monitorPids(p.ID)
		require.Len(t, pids, 1)
		assert.Equal(t, sealedExe("plugdbgd-monitor"), exeOf(t, pids[0]))
		assert.Equal(t, "plugdbgd-monito", commOf(t, pids[0]), "named as its binary, not after the descriptor it was started through")
		tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pids[0]) + "/task/*/comm")
		require.NoError(t, err)
		require.NotEmpty(t, tasks)
		for _, comm := range tasks {
			name, err := os.ReadFile(comm)
			if err == nil { // a thread may have ended meanwhile
				assert.Equal(t, "plugdbgd-monito\n", string(name), "every thread of the monitor has its name (%s)", comm)
			}
		}
		log := d.daemonLog()
		assert.Contains(t, log, "monitors run from a sealed copy of "+filepath.Join(filepath.Dir(plugdbgdBin), "plugdbgd-monitor"))
		assert.Regexp(t, `container started in [^ ]+ \(prepare [^,]+, claim [^,]+, listen and open log [^,]+, create container [^,]+, run container [^,]+, handover and report [^)]+\)`, log)
		assert.NotContains(t, log, "no plugdbgd-monitor")
	})

	t.Run("without one", func(t *testing.T) {
		d := newDaemon(t)
		d.bin = filepath.Join(d.dir, "plugdbgd")
		copyExecutable(t, plugdbgdBin, d.bin)
		d.startWith()
		p := d.create(t, "alone", "volume")
		_, stderr, code := d.cli(t, "enable", "alone")
		require.Equal(t, 0, code, stderr)
		pids := d.monitorPids(p.ID)
		require.Len(t, pids, 1)
		assert.Equal(t, sealedExe("plugdbgd"), exeOf(t, pids[0]))
		assert.Equal(t, "plugdbgd-monito", commOf(t, pids[0]))
		assert.Contains(t, d.daemonLog(), "no plugdbgd-monitor beside "+d.bin+": monitors and container inits run from plugdbgd itself")
	})
}

// sealedExe is what /proc/PID/exe says of a process run from a sealed copy
// of the binary named name (monitor.Launcher.Seal).
func sealedExe(name string) string { return "/memfd:runc_cloned:" + name + " (deleted)" }

func commOf(t *testing.T, pid int) string {
	t.Helper()
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	require.NoError(t, err)
	return strings.TrimSuffix(string(comm), "\n")
}

func exeOf(t *testing.T, pid int) string {
	t.Helper()
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	require.NoError(t, err)
	return exe
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
